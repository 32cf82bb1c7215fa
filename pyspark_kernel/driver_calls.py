"""The kernel's own calls into the driver JVM around each cell, one round trip per step.

Each Py4J call costs a running kernel 0.2-0.4 ms (the JVM thread that serves the cell's
thread wakes up, answers, the cell's thread wakes up), and a cell that defines a DataFrame
cost the kernel nine: its job tag and description before it, its job ids, the tag's
removal, the result's schema and plan after it. `DriverCalls` makes each step one call
(and the job ids and the DataFrame the cell bound last one call together)
through a small Java class that the kernel compiles in the driver with Janino (which Spark
ships for its generated code) on a thread of its own, once the first cell has asked for it.
Until it is there, and for any Spark it does not compile on, the same calls go one by one.
The same class makes the user's short Python lists and dicts Java ones in one call
(`java_collections`).
"""

from __future__ import annotations

import logging
import threading
import uuid
import weakref
from typing import Any

import pyspark_kernel.java_collections as java_collections
import pyspark_kernel.jvmcalls as jvmcalls
import pyspark_kernel.spark_internals as internals

log = logging.getLogger(__name__)

CLASS_NAME = "PySparkKernelDriverCalls"  # + a suffix of its own per compiled class: Py4J
# caches methods by class name, so two classes of one name in a JVM (a context stopped
# and made again) must not meet
PLANS_KEPT = 16  # the analyzed plans of the last DataFrames described
# Plain Java as Janino reads it (no generics, no lambdas, no varargs); the Dataset is
# reached by reflection, its class differs between Spark 3.5 and 4.
SOURCE = """
public class CLASS_NAME {
    private static final Class[] NO_TYPES = new Class[0];
    private static final Object[] NO_ARGS = new Object[0];
    private final org.apache.spark.SparkContext sc;
    private volatile String cellTag;  // the last cell's, and the next job id when it began
    private volatile int cellFirstJob = -1;

    public CLASS_NAME(org.apache.spark.SparkContext sc) {
        this.sc = sc;
    }

    /** The cell's job tag and description on this thread, the previous cell's tag off. */
    public void beginCell(String previousTag, String tag, String description) {
        cellFirstJob = nextJobId();
        cellTag = tag;
        if (previousTag != null) {
            sc.removeJobTag(previousTag);
        }
        sc.addJobTag(tag);
        sc.setJobDescription(description);
    }

    /** The id the scheduler gives the next job of any thread (-1 with no scheduler). */
    private int nextJobId() {
        org.apache.spark.scheduler.DAGScheduler scheduler = sc.dagScheduler();
        return scheduler == null ? -1 : scheduler.nextJobId().get();
    }

    /** The ids of the jobs (running or done) that carry `tag`, comma-separated. None at
     *  all since the cell began: none to list (listing reads every retained job). */
    public String jobIds(String tag) {
        if (tag.equals(cellTag) && cellFirstJob >= 0 && nextJobId() == cellFirstJob) {
            return "";
        }
        int[] ids = sc.statusTracker().getJobIdsForTag(tag);
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < ids.length; i++) {
            if (i > 0) {
                text.append(',');
            }
            text.append(ids[i]);
        }
        return text.toString();
    }

    /** A Dataset's schema as JSON, then the operators of its analyzed logical plan (and
     *  of its subqueries) one per line, in the order of its tree string (which would also
     *  format every expression: it takes longer). */
    public String describe(Object dataset) throws Exception {
        Object schema = call(dataset, "schema");
        StringBuilder text = new StringBuilder();
        text.append(schemaJson((org.apache.spark.sql.types.StructType) schema));
        Object plan = call(dataset, "logicalPlan");
        operators((org.apache.spark.sql.catalyst.trees.TreeNode) plan, text);
        return text.toString();
    }

    private static void operators(
            org.apache.spark.sql.catalyst.trees.TreeNode node, StringBuilder text) {
        text.append('\\n').append(node.nodeName());
        operatorsOf((scala.collection.Iterable) node.innerChildren(), text);
        operatorsOf((scala.collection.Iterable) node.children(), text);
    }

    private static void operatorsOf(scala.collection.Iterable nodes, StringBuilder text) {
        scala.collection.Iterator each = nodes.iterator();
        while (each.hasNext()) {
            operators((org.apache.spark.sql.catalyst.trees.TreeNode) each.next(), text);
        }
    }

    /** `jobIds(tag)`, a newline, and `describe(dataset)`: the end of a cell in one call. */
    public String jobIdsAndDescribe(String tag, Object dataset) throws Exception {
        return jobIds(tag) + "\\n" + describe(dataset);
    }

    /** `schema.json()`, written here when every field is of a plain type and has no
     *  metadata (Spark's JSON writer takes a few tenths of a millisecond). */
    private static String schemaJson(org.apache.spark.sql.types.StructType schema) {
        org.apache.spark.sql.types.StructField[] fields = schema.fields();
        StringBuilder text = new StringBuilder("{\\"type\\":\\"struct\\",\\"fields\\":[");
        for (int i = 0; i < fields.length; i++) {
            org.apache.spark.sql.types.StructField field = fields[i];
            String type = plainTypeName(field.dataType());
            if (type == null || !field.metadata().equals(NO_METADATA)) {
                return schema.json();
            }
            if (i > 0) {
                text.append(',');
            }
            text.append("{\\"name\\":");
            quote(field.name(), text);
            text.append(",\\"type\\":\\"").append(type).append("\\",\\"nullable\\":");
            text.append(field.nullable()).append(",\\"metadata\\":{}}");
        }
        return text.append("]}").toString();
    }

    /** The JSON name of a type that is one word (or a decimal's), else null. */
    private static String plainTypeName(Object type) {
        String name = type.getClass().getName();
        if (!name.startsWith("org.apache.spark.sql.types.")) {
            return null;
        }
        name = name.substring(27);
        if (name.equals("DecimalType")) {
            org.apache.spark.sql.types.DecimalType decimal =
                (org.apache.spark.sql.types.DecimalType) type;
            return "decimal(" + decimal.precision() + "," + decimal.scale() + ")";
        }
        String[] plain = PLAIN_TYPES;
        for (int i = 0; i < plain.length; i += 2) {
            if (plain[i].equals(name)) {
                return plain[i + 1];
            }
        }
        return null;
    }

    private static final Object NO_METADATA = org.apache.spark.sql.types.Metadata.empty();
    private static final String[] PLAIN_TYPES = {
        "LongType$", "long", "IntegerType$", "integer", "ShortType$", "short",
        "ByteType$", "byte", "DoubleType$", "double", "FloatType$", "float",
        "BooleanType$", "boolean", "StringType$", "string", "BinaryType$", "binary",
        "DateType$", "date", "TimestampType$", "timestamp",
        "TimestampNTZType$", "timestamp_ntz"
    };

    private static void quote(String value, StringBuilder text) {
        text.append('"');
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '"' || c == '\\\\') {
                text.append('\\\\').append(c);
            } else if (c < 0x20) {
                String hex = Integer.toHexString(c);
                text.append("\\\\u00").append(hex.length() == 1 ? "0" : "").append(hex);
            } else {
                text.append(c);
            }
        }
        text.append('"');
    }

    private static Object call(Object target, String method) throws Exception {
        return target.getClass().getMethod(method, NO_TYPES).invoke(target, NO_ARGS);
    }

COLLECTIONS
}
""".replace("COLLECTIONS", java_collections.java_methods())


class DriverCalls:
    """The kernel's per-cell JVM calls on one classic SparkContext (`of` gives its one
    instance). A cell's job tag stays on the cells' thread until the next cell's replaces
    it, in the same call (the kernel's own work in between swaps in its own tag)."""

    def __init__(self, sc: Any) -> None:
        self.sc = sc
        self.helper: Any = None  # the compiled class's instance, once compiled
        self.previous_tag: str | None = None  # the last cell's tag, still on the thread
        self._compile_started = False
        self._tracker: Any = None  # the JVM's status tracker, for the calls one by one
        self._plans: dict[int, tuple[weakref.ref[Any], str]] = {}  # id(df) -> its plan
        self._lock = threading.Lock()

    @classmethod
    def of(cls, sc: Any) -> DriverCalls:
        """The instance for `sc` (a new SparkContext gets a new one)."""
        with _INSTANCES_LOCK:
            calls = _INSTANCES.get(sc)
            if calls is None:
                calls = _INSTANCES[sc] = cls(sc)
            return calls

    # -- the helper class ------------------------------------------------------------------
    def compile_soon(self) -> None:
        """Compile the helper on a daemon thread, once; calls use it when it is there."""
        with self._lock:
            if self._compile_started:
                return
            self._compile_started = True
        threading.Thread(target=self.compile, name="driver-calls-compile", daemon=True).start()

    def compile(self) -> bool:
        """Compile the helper now; False (and plain calls from then on) if it fails."""
        try:
            with jvmcalls.internal():
                name = f"{CLASS_NAME}{uuid.uuid4().hex[:12]}"
                source = SOURCE.replace("CLASS_NAME", name)
                self.helper = internals.compile_java_object(
                    self.sc, source, name, self.sc._jsc.sc()
                )
            java_collections.use(internals.gateway_client(self.sc._gateway), self.helper)
        except Exception as exc:  # another Spark, no Janino, or the JVM went away
            log.debug("per-cell calls stay one by one: %s", str(exc).splitlines()[0][:200])
            return False
        return True

    # -- the steps -------------------------------------------------------------------------
    def begin_cell(self, tag: str, description: str, ahead: bool = False) -> None:
        """Put the cell's job tag and description on this thread, in place of the last
        cell's tag; `ahead`: send the call and go on, the JVM answers while the cell
        starts (the answer is read before this thread's next call: the jobs of that call
        carry the tag)."""
        previous, helper = self.previous_tag, self.helper
        if helper is not None:
            args = (previous, tag, description)
            if not (ahead and internals.send_ahead(helper, "beginCell", *args)):
                helper.beginCell(*args)
        else:
            self.compile_soon()
            if previous is not None:
                self.sc.removeJobTag(previous)
            self.sc.addJobTag(tag)
            self.sc.setJobDescription(description)
        self.previous_tag = tag

    def job_ids(self, tag: str, describe: Any = None) -> list[int]:
        """Ids of the jobs (running or done) that carry `tag`; with `describe`, a DataFrame
        whose schema and plan will be asked for next, those in the same call."""
        helper = self.helper
        if helper is None:
            if self._tracker is None:  # fetched once, as before the helper existed
                self._tracker = internals.status_tracker(self.sc)
            return internals.job_ids_for_tag(self._tracker, tag)
        if describe is not None and self._undescribed(describe):
            text, schema, plan = str(helper.jobIdsAndDescribe(tag, describe._jdf)).split("\n", 2)
            self._keep(describe, schema, plan)
        else:
            text = str(helper.jobIds(tag))
        return sorted(int(i) for i in text.split(",")) if text else []

    def plan_operators(self, df: Any) -> str:
        """The operators of a classic DataFrame's analyzed logical plan (fixed when the
        DataFrame was made: the last few are kept), one per line: their names with the
        helper, the plan's tree string without (`budget` reads the first word of each line).
        Its schema is read in the same call and kept where PySpark keeps it (``df.schema``
        then asks the JVM nothing)."""
        kept = self._plans.get(id(df))
        if kept is not None and kept[0]() is df:
            return kept[1]
        helper = self.helper
        if helper is None:
            plan = internals.analyzed_plan(df)
            self._keep(df, None, plan)
        else:
            schema, plan = str(helper.describe(df._jdf)).split("\n", 1)
            self._keep(df, schema, plan)
        return plan

    def _undescribed(self, df: Any) -> bool:
        """Whether `df` is a classic DataFrame of this context whose plan is not kept."""
        if getattr(df, "_jdf", None) is None or df.sparkSession.sparkContext is not self.sc:
            return False
        kept = self._plans.get(id(df))
        return kept is None or kept[0]() is not df

    def _keep(self, df: Any, schema: str | None, plan: str) -> None:
        """Keep `df`'s plan (and its schema, where PySpark keeps it, if it has none yet)."""
        if schema is not None and not internals.has_schema(df):
            internals.remember_schema(df, schema)
        if len(self._plans) >= PLANS_KEPT:
            self._plans.pop(next(iter(self._plans)))
        self._plans[id(df)] = (weakref.ref(df), plan)


_INSTANCES: weakref.WeakKeyDictionary[Any, DriverCalls] = weakref.WeakKeyDictionary()
_INSTANCES_LOCK = threading.Lock()


def for_frame(df: Any) -> DriverCalls | None:
    """The `DriverCalls` of a classic DataFrame's session (None on Spark Connect)."""
    if getattr(df, "_jdf", None) is None:
        return None
    return DriverCalls.of(df.sparkSession.sparkContext)
