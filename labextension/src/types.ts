/**
 * The JSON the kernel sends: display payloads (docs/mimetypes.md) and the
 * messages of the `pyspark-kernel.v1` comm channel (docs/channel.md).
 *
 * Field names are the wire names (snake_case); the interfaces only describe
 * them for TypeScript. The fixtures in tests/fixtures/mime/ and
 * tests/fixtures/channel/ are the reference examples shared with the Python
 * tests.
 */

/**
 * Mime type of a DataFrame preview.
 */
export const TABLE_MIME_TYPE = 'application/vnd.pyspark-kernel.table.v1+json';

/**
 * Mime type of the Spark job progress of one cell.
 */
export const PROGRESS_MIME_TYPE =
  'application/vnd.pyspark-kernel.progress.v1+json';

/**
 * Mime type of the live status of one streaming query.
 */
export const STREAM_MIME_TYPE = 'application/vnd.pyspark-kernel.stream.v1+json';

/**
 * A JSON-safe cell value: see the value table in docs/mimetypes.md.
 */
export type CellValue =
  | null
  | boolean
  | number
  | string
  | CellValue[]
  | { [field: string]: CellValue };

/**
 * One column of a table payload.
 */
export interface IColumn {
  name: string;
  /** Spark's `simpleString`, e.g. `bigint`, `struct<a:int,b:array<string>>`. */
  type: string;
  nullable: boolean;
}

/**
 * Where a table preview came from.
 */
export type TableSource =
  'expression' | 'parquet' | 'view' | 'direct_dataframe' | 'sql' | 'transform';

/**
 * `application/vnd.pyspark-kernel.table.v1+json`
 */
export interface ITablePayload {
  version: 1;
  columns: IColumn[];
  /** One array per row, values in column order. */
  rows: CellValue[][];
  /** More rows exist than are shown. */
  truncated: boolean;
  /** Preview size asked for. */
  max_rows: number;
  /** Exact row count when asked for, else `null`. */
  row_count: number | null;
  /** `[row, col]` of cells whose value was shortened in the preview. */
  cut: [number, number][];
  source: TableSource;
  view_name: string | null;
  parquet_path: string | null;
  variable_name: string | null;
  /** A streaming DataFrame: `columns` only, no rows. */
  streaming: boolean;
  /**
   * The id under which the kernel keeps the DataFrame (its last results), to
   * ask for more of it over the channel; `null` in older outputs.
   */
  result_id: string | null;
  /**
   * Why the kernel showed the schema only, without rows: `plan` (its plan
   * needs a pass over all its input) or `budget` (the preview ran past its
   * time budget); `null` when rows were fetched, and in older outputs.
   */
  deferred: 'plan' | 'budget' | null;
}

/**
 * Progress state of a cell's Spark jobs.
 */
export type ProgressState = 'running' | 'done' | 'failed' | 'cancelled';

/**
 * One stage of a job in a progress payload.
 */
export interface IStage {
  stage_id: number;
  attempt: number;
  name: string;
  num_tasks: number;
  num_active_tasks: number;
  num_completed_tasks: number;
  num_failed_tasks: number;
}

/**
 * One job in a progress payload.
 */
export interface IJob {
  job_id: number;
  /** Spark's job status: `RUNNING`, `SUCCEEDED`, `FAILED`, `UNKNOWN`. */
  status: string;
  name: string;
  url: string;
  num_tasks: number;
  num_completed_tasks: number;
  num_failed_tasks: number;
  stages: IStage[];
}

/**
 * Totals over all jobs of a progress payload.
 */
export interface IProgressTotals {
  jobs: number;
  stages: number;
  tasks: number;
  completed_tasks: number;
  failed_tasks: number;
}

/**
 * `application/vnd.pyspark-kernel.progress.v1+json`
 */
export interface IProgressPayload {
  version: 1;
  state: ProgressState;
  /** Milliseconds since the cell started. */
  elapsed_ms: number;
  /** Spark UI base URL. */
  ui_url: string | null;
  jobs: IJob[];
  totals: IProgressTotals;
}

/**
 * State of a streaming query.
 */
export type StreamState = 'starting' | 'active' | 'stopped' | 'failed';

/**
 * One source of a streaming query.
 */
export interface IStreamSource {
  description: string;
  start_offset: string | null;
  end_offset: string | null;
  latest_offset: string | null;
  /** Kafka offsets behind, `null` where unknown. */
  lag: number | null;
}

/**
 * One micro-batch of a stream's history, for the sparkline.
 */
export interface IStreamPoint {
  batch_id: number;
  input_rows_per_second: number;
  processed_rows_per_second: number;
}

/**
 * `application/vnd.pyspark-kernel.stream.v1+json`
 */
export interface IStreamPayload {
  version: 1;
  id: string;
  run_id: string;
  name: string | null;
  state: StreamState;
  /** Spark's status message. */
  message: string;
  /** Last completed micro-batch. */
  batch_id: number | null;
  num_input_rows: number;
  input_rows_per_second: number;
  processed_rows_per_second: number;
  batch_duration_ms: number | null;
  /** Event-time watermark (ISO-8601). */
  watermark: string | null;
  /** Rows held in state stores. */
  state_rows: number | null;
  sources: IStreamSource[];
  sink: string;
  /** Last ≤ 60 batches. */
  history: IStreamPoint[];
  /** Failure message for `failed`. */
  error: string | null;
  /** The run's statistics page in the Spark UI (direct or through the server). */
  ui_url: string | null;
}

/**
 * Target name of the comm channel.
 */
export const CHANNEL_TARGET = 'pyspark-kernel.v1';

/**
 * State of the kernel's SparkSession.
 */
export type SparkState = 'stopped' | 'starting' | 'ready' | 'failed' | 'dead';

/**
 * The session's state: the `status` of a `status` reply or push.
 */
export interface ISparkStatus {
  state: SparkState;
  /** Master URL, or the Spark Connect URL. */
  master: string | null;
  /** A Spark Connect session. */
  remote: boolean;
  app_id: string | null;
  /** Spark UI link (proxied through the Jupyter server when there is one). */
  ui_url: string | null;
  version: string | null;
  /** Why the session is not ready (`failed`, `dead`). */
  error: string | null;
}

const STATUS_FIELDS: { [K in keyof ISparkStatus]-?: true } = {
  state: true,
  master: true,
  remote: true,
  app_id: true,
  ui_url: true,
  version: true,
  error: true
};

/**
 * The fields of `ISparkStatus`, in the order docs/channel.md lists them.
 */
export const SPARK_STATUS_FIELDS = Object.keys(STATUS_FIELDS) as ReadonlyArray<
  keyof ISparkStatus
>;

/**
 * A request: `op`, `id`, then the op's arguments.
 */
export interface IChannelRequest {
  op: string;
  id: string | number;
  [argument: string]: unknown;
}

/**
 * A reply (echoing `op` and `id`) or, with `push: true` and no `id`, an
 * unasked update. `error` is set when `ok` is false.
 */
export interface IChannelMessage {
  op: string;
  id?: string | number | null;
  ok: boolean;
  push?: boolean;
  error?: string;
  [field: string]: unknown;
}

/**
 * `status` reply or push.
 */
export interface IStatusMessage extends IChannelMessage {
  op: 'status';
  status: ISparkStatus;
}

/**
 * `streams` reply or push: the active queries and the last ones that ended.
 */
export interface IStreamsMessage extends IChannelMessage {
  op: 'streams';
  queries: IStreamPayload[];
}

/**
 * `stop_stream` reply: the run ids of the queries stopped.
 */
export interface IStopStreamReply extends IChannelMessage {
  op: 'stop_stream';
  stopped?: string[];
}

/**
 * A column in a `catalog` reply; `fields` lists a struct's fields.
 */
export interface ICatalogColumn {
  name: string;
  type: string;
  fields: ICatalogColumn[];
}

/**
 * A view or DataFrame variable with its columns.
 */
export interface ICatalogRelation {
  name: string;
  columns: ICatalogColumn[];
}

/**
 * What the data browser shows, listed without running a Spark job.
 */
export interface ICatalog {
  /** False until the first listing (a session still starting). */
  ready: boolean;
  current_database: string | null;
  databases: { name: string; tables: string[] }[];
  temp_views: ICatalogRelation[];
  global_database: string | null;
  global_views: ICatalogRelation[];
  dataframes: ICatalogRelation[];
}

/**
 * `catalog` reply or push; with `table` in the request, the reply has that
 * table's `columns` instead of `catalog`.
 */
export interface ICatalogMessage extends IChannelMessage {
  op: 'catalog';
  catalog?: ICatalog;
  table?: string;
  columns?: ICatalogColumn[];
}

/**
 * One sort key of a `page` request.
 */
export interface ISortKey {
  column: string;
  descending: boolean;
}

/**
 * Operators of a `page` filter.
 */
export type FilterOp =
  | 'eq'
  | 'ne'
  | 'lt'
  | 'le'
  | 'gt'
  | 'ge'
  | 'contains'
  | 'starts_with'
  | 'is_null'
  | 'not_null';

/**
 * The filter operators, in the order docs/channel.md lists them.
 */
export const FILTER_OPS: ReadonlyArray<FilterOp> = [
  'eq',
  'ne',
  'lt',
  'le',
  'gt',
  'ge',
  'contains',
  'starts_with',
  'is_null',
  'not_null'
];

/**
 * One filter of a `page` request (filters are ANDed); `value` is unused by
 * `is_null` and `not_null`.
 */
export interface IFilter {
  column: string;
  op: FilterOp;
  value?: string | number | boolean | null;
}

/**
 * `page` reply: rows `offset .. offset + limit` of the whole result,
 * filtered and sorted by Spark, encoded as in the table payload.
 */
export interface IPageReply extends IChannelMessage {
  op: 'page';
  result_id: string;
  columns: IColumn[];
  rows: CellValue[][];
  cut: [number, number][];
  offset: number;
  limit: number;
  has_more: boolean;
}

/**
 * Kinds of chart.
 */
export type ChartKind = 'bar' | 'line' | 'area' | 'scatter' | 'pie';

/**
 * The chart kinds, in the order docs/channel.md lists them.
 */
export const CHART_KINDS: ReadonlyArray<ChartKind> = [
  'bar',
  'line',
  'area',
  'scatter',
  'pie'
];

/**
 * Aggregations of a chart's y column.
 */
export type ChartAgg = 'sum' | 'avg' | 'count' | 'min' | 'max';

/**
 * The aggregations, in the order docs/channel.md lists them.
 */
export const CHART_AGGS: ReadonlyArray<ChartAgg> = [
  'sum',
  'avg',
  'count',
  'min',
  'max'
];

/**
 * What a chart shows: `agg(y)` per `x` (and `color`).
 */
export interface IChartSettings {
  kind: ChartKind;
  x: string;
  /** `null` for `count`. */
  y: string | null;
  agg: ChartAgg;
  color: string | null;
}

/**
 * One aggregated point of a chart.
 */
export interface IChartPoint {
  x: CellValue;
  value: CellValue;
  /** Set when the chart has a colour column. */
  color?: CellValue;
}

/**
 * The points of a chart and what they were computed over: the `chart` of a
 * `chart` reply.
 */
export interface IChartData extends IChartSettings {
  rows: IChartPoint[];
  /** The Spark type of the rows' x (the kernel's `chart` op sends it). */
  x_type?: string;
  /** How many x values the result has. */
  groups: number;
  shown_groups: number;
  /** The groups past `shown_groups` are summed up as one named `other`. */
  other: boolean;
  computed_over: string;
}

/**
 * `chart` reply.
 */
export interface IChartReply extends IChannelMessage {
  op: 'chart';
  result_id: string;
  chart: IChartData;
}

/**
 * One bin of a profile's histogram.
 */
export interface IHistogramBin {
  start: number;
  end: number;
  count: number;
}

/**
 * The profile of one column; `min`, `max` for numbers, dates and timestamps,
 * `mean` and `histogram` for numbers, `top` for strings and booleans.
 */
export interface IColumnProfile {
  name: string;
  type: string;
  /** Non-null values. */
  count: number;
  null_share: number;
  /** Approximate; `null` for nested and binary columns. */
  distinct: number | null;
  min?: CellValue;
  max?: CellValue;
  mean?: number | null;
  histogram?: IHistogramBin[];
  top?: { value: CellValue; count: number }[];
}

/**
 * `preview` reply.
 */
export interface IPreviewReply extends IChannelMessage {
  /** The rows the user asked for, as a new table payload. */
  table: ITablePayload;
}

/**
 * `profile` reply.
 */
export interface IProfileReply extends IChannelMessage {
  op: 'profile';
  result_id: string;
  profile: { rows: number; columns: IColumnProfile[] };
}

/**
 * Formats of an export.
 */
export type ExportFormat = 'csv' | 'parquet';

/**
 * One chunk of an `export`, carrying one binary buffer: a message with the
 * request's `op` and `id` and no `ok` field.
 */
export interface IExportChunk {
  op: 'export';
  id: string | number;
  chunk: number;
  chunks: number;
  /** Bytes of the whole file. */
  size: number;
}

/**
 * `export` reply, after the last chunk.
 */
export interface IExportReply extends IChannelMessage {
  op: 'export';
  result_id: string;
  file_name: string;
  format: ExportFormat;
  size: number;
  chunks: number;
}

/**
 * What a table output remembers in its metadata (under the table mime type):
 * the view shown and the chart chosen with its points, so that it shows
 * again when the notebook is opened without a kernel.
 */
export interface ITableViewState {
  view: 'table' | 'chart';
  chart: ISavedChart | null;
}

/**
 * A chart as saved with the notebook.
 */
export interface ISavedChart {
  /** The points; their settings are the chart's settings. */
  data: IChartData;
  /** Who aggregated: Spark over the whole result, or the frontend over the
   * rows of a preview that held the whole result. */
  source: 'spark' | 'rows';
}
