/**
 * The JSON payloads the kernel publishes, as documented in docs/mimetypes.md.
 *
 * Field names are the wire names (snake_case); the interfaces only describe
 * them for TypeScript. The fixtures in tests/fixtures/mime/ are the reference
 * examples shared with the Python tests.
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
 * DOM event a stream display dispatches (bubbling) to ask for its query to be
 * stopped; the lab plugin runs `detail.code` on the notebook's kernel and
 * calls `preventDefault()` to say it did.
 */
export const STOP_STREAM_EVENT = 'pysk-stop-stream';

/**
 * Detail of a `pysk-stop-stream` event.
 */
export interface IStopStreamDetail {
  /** Code to execute on the kernel (the payload's `stop_code`). */
  code: string;
  /** The streaming query id. */
  id: string;
}

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
  /** Code a frontend may execute to stop this query. */
  stop_code: string;
}

/**
 * State of the kernel's SparkSession, from `pyspark_kernel.status_json()`.
 */
export type SparkState = 'starting' | 'ready' | 'dead' | 'failed' | 'stopped';

/**
 * What `pyspark_kernel.status_json()` returns (as a JSON string).
 */
export interface ISparkStatus {
  state: SparkState;
  master: string;
  ui_url: string | null;
  app_id: string | null;
  version: string;
}
