/**
 * Spark SQL for CodeMirror 6: a dialect of `@codemirror/lang-sql` with
 * Spark's keywords, types and common functions, backquoted identifiers,
 * double-quoted strings and backslash escapes. Loaded on demand by the
 * language registry (`sqlcells.ts`), so it costs nothing until a `%%sql`
 * cell is shown.
 */
import { SQLDialect } from '@codemirror/lang-sql';
import { LanguageSupport } from '@codemirror/language';

/**
 * Spark SQL's keywords (its ANSI and non-reserved ones that read as
 * keywords), lower case.
 */
export const SPARK_KEYWORDS =
  'add after all alter analyze and anti any archive as asc at between both ' +
  'bucket buckets by cache cascade case cast catalog catalogs change clear ' +
  'cluster clustered codegen collate collection column columns comment ' +
  'commit compact compute constraint cost create cross cube current ' +
  'current_date current_time current_timestamp current_user data database ' +
  'databases day days dbproperties declare default delete delimited desc ' +
  'describe directory distinct distribute div drop else end escape escaped ' +
  'except exchange exists explain export extended external extract fetch ' +
  'fields fileformat first following for foreign format formatted from full ' +
  'function functions global grant group grouping having hour hours if ' +
  'ignore ilike import in inner inpath inputformat insert intersect into is ' +
  'join keys last lateral lazy leading left like limit lines list load local ' +
  'location lock logical macro matched merge minute minutes month months ' +
  'msck namespace namespaces natural no not nulls of offset on only option ' +
  'options or order out outer outputformat over overlaps overwrite partition ' +
  'partitioned partitions percent pivot position preceding primary ' +
  'properties purge qualify range recover reduce references refresh regexp ' +
  'rename repair replace reset respect restrict revoke right rlike role ' +
  'rollback rollup row rows schema schemas second seconds select semi serde ' +
  'serdeproperties session_user set sets show skewed some sort sorted start ' +
  'statistics stored stratify sync table tables tablesample tblproperties ' +
  'temp temporary terminated then to trailing transform truncate ' +
  'try_cast unbounded uncache union unique unpivot unset update use user ' +
  'using values view views week weeks when where window with within year ' +
  'years zone';

/**
 * Spark SQL's data types, lower case.
 */
export const SPARK_TYPES =
  'array bigint binary boolean byte char date dec decimal double float int ' +
  'integer interval long map numeric real short smallint string struct ' +
  'timestamp timestamp_ltz timestamp_ntz tinyint varchar variant void';

/**
 * Common Spark SQL functions, highlighted as built-ins.
 */
export const SPARK_FUNCTIONS =
  'abs acos aggregate approx_count_distinct approx_percentile array_agg ' +
  'array_contains array_distinct array_join array_max array_min ' +
  'array_position array_remove array_sort arrays_zip avg bool_and bool_or ' +
  'ceil ceiling coalesce collect_list collect_set concat concat_ws contains ' +
  'corr count count_if covar_pop covar_samp cume_dist date_add date_diff ' +
  'date_format date_sub date_trunc datediff dayofmonth dayofweek dayofyear ' +
  'decode dense_rank element_at encode endswith exp explode explode_outer ' +
  'filter first_value flatten floor format_number format_string from_json ' +
  'from_unixtime from_utc_timestamp get_json_object greatest hash hour ifnull ' +
  'initcap inline instr isnan isnotnull isnull json_tuple lag last_day ' +
  'last_value lcase lead least length levenshtein ln locate log log10 log2 ' +
  'lower lpad ltrim make_date map_from_arrays map_keys map_values max md5 ' +
  'mean median min mode monotonically_increasing_id months_between ' +
  'named_struct nanvl next_day nth_value ntile nullif nvl nvl2 ' +
  'percent_rank percentile percentile_approx posexplode pow power quarter ' +
  'rand randn rank regexp_extract regexp_replace repeat reverse round ' +
  'row_number rpad rtrim sequence sha1 sha2 shuffle size slice sort_array ' +
  'split sqrt startswith stddev stddev_pop stddev_samp struct substr ' +
  'substring substring_index sum to_date to_json to_timestamp ' +
  'to_unix_timestamp to_utc_timestamp transform translate trim trunc ' +
  'try_divide try_to_number typeof ucase unix_timestamp upper uuid ' +
  'var_pop var_samp variance weekofyear xxhash64';

/**
 * The Spark SQL dialect.
 */
export const SPARK_SQL = SQLDialect.define({
  keywords: SPARK_KEYWORDS,
  types: SPARK_TYPES,
  builtin: SPARK_FUNCTIONS,
  backslashEscapes: true,
  doubleQuotedStrings: true,
  identifierQuotes: '`',
  caseInsensitiveIdentifiers: true
});

/**
 * The language support given to CodeMirror for Spark SQL.
 */
export function sparkSql(): LanguageSupport {
  return new LanguageSupport(SPARK_SQL.language);
}
