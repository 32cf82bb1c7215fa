/**
 * Where a table's rows come from: the whole result, paged, sorted and
 * filtered by Spark through the kernel's `page` op, or the rows saved in the
 * output (sorted and filtered here) when the whole result is out of reach.
 */
import type { IRequestOptions, SparkChannel } from './channel';
import {
  compareNumbers,
  formatValue,
  isNumericType,
  ISortState,
  numericKey,
  parseSparkType,
  plural,
  sortedRowOrder,
  SparkType
} from './format';
import type {
  CellValue,
  IChannelMessage,
  IFilter,
  IPageReply,
  ISortKey,
  ITablePayload
} from './types';

/**
 * The most rows the kernel sends in one page.
 */
export const MAX_PAGE_ROWS = 1000;

/**
 * A page of rows.
 */
export interface IRowsPage {
  rows: CellValue[][];
  /** `row,column` of shortened values, rows counted from this page's first. */
  cut: Set<string>;
  offset: number;
  /** Rows follow this page. */
  hasMore: boolean;
  /** Rows that match the query, when known. */
  total: number | null;
  /** `spark`: from the whole result; `rows`: from the rows in the output. */
  origin: 'spark' | 'rows';
}

/**
 * A page that could not be had, and why.
 */
export interface IRowsError {
  error: string;
}

/**
 * What is asked of a table's rows.
 */
export interface IRowsQuery {
  sort: ISortState | null;
  filters: IFilter[];
  offset: number;
  limit: number;
}

/**
 * Options of `TableRows`.
 */
export interface ITableRowsOptions {
  payload: ITablePayload;
  channel: SparkChannel | null;
  trusted: boolean;
  /** Milliseconds Spark may take for a page. */
  timeoutMs: () => number;
}

/**
 * Whether a value passes a filter, as Spark would decide it: nulls pass only
 * `is_null`; numbers compare as numbers; `contains` and `starts_with` compare
 * text, case-insensitively; everything else compares as text.
 */
export function matchesFilter(
  value: CellValue | undefined,
  type: SparkType,
  filter: IFilter
): boolean {
  const missing = value === null || value === undefined;
  if (filter.op === 'is_null') {
    return missing;
  }
  if (filter.op === 'not_null') {
    return !missing;
  }
  if (missing) {
    return false;
  }
  const text = typeof value === 'string' ? value : formatValue(value, type);
  const wanted = filter.value === null || filter.value === undefined;
  if (filter.op === 'contains' || filter.op === 'starts_with') {
    const needle = wanted ? '' : String(filter.value).toLowerCase();
    const hay = text.toLowerCase();
    return filter.op === 'contains'
      ? hay.includes(needle)
      : hay.startsWith(needle);
  }
  if (wanted) {
    return false;
  }
  let order: number;
  const numeric =
    isNumericType(type) || (type.kind === 'atomic' && type.name === 'boolean');
  if (numeric) {
    const a = numericKey(value);
    const b = numericKey(filter.value as CellValue);
    if (a === null || b === null) {
      return false;
    }
    order = compareNumbers(a, b);
  } else {
    const b = String(filter.value);
    order = text < b ? -1 : text > b ? 1 : 0;
  }
  switch (filter.op) {
    case 'eq':
      return order === 0;
    case 'ne':
      return order !== 0;
    case 'lt':
      return order < 0;
    case 'le':
      return order <= 0;
    case 'gt':
      return order > 0;
    case 'ge':
      return order >= 0;
    default:
      return false;
  }
}

/**
 * The value a filter sends for what was typed, by column type: a number for
 * numeric columns, a boolean for boolean ones, else the text.
 */
export function filterValue(
  typed: string,
  type: SparkType
): string | number | boolean {
  const text = typed.trim();
  if (isNumericType(type) && text !== '' && Number.isFinite(Number(text))) {
    return Number(text);
  }
  if (type.kind === 'atomic' && type.name === 'boolean') {
    if (/^true$/i.test(text)) {
      return true;
    }
    if (/^false$/i.test(text)) {
      return false;
    }
  }
  return typed;
}

/**
 * The rows of one table output.
 */
export class TableRows {
  constructor(options: ITableRowsOptions) {
    this._payload = options.payload;
    this._channel = options.channel;
    this._trusted = options.trusted;
    this._timeoutMs = options.timeoutMs;
    this._types = options.payload.columns.map(c => parseSparkType(c.type));
  }

  /**
   * Whether the whole result is to be asked for: a preview that does not
   * hold every row, a result the kernel keeps, a trusted output and an open
   * channel.
   */
  get wholeResult(): boolean {
    const p = this._payload;
    return p.truncated && !p.streaming && this.whyRowsOnly() === null;
  }

  /**
   * Why the kernel cannot be asked about this result now; `null` when it
   * can (a result id, not expired, a trusted output, an open channel).
   */
  whyNotAsk(): string | null {
    if (!this._payload.result_id) {
      return 'this output has no result id (an older kernel)';
    }
    if (this._expired) {
      return this._expired;
    }
    if (!this._trusted) {
      return 'trust the notebook to ask Spark for the whole result';
    }
    if (!this._channel?.isOpen) {
      return 'no kernel to ask for the whole result';
    }
    return null;
  }

  /**
   * Why sorting, filtering and paging stay within the saved rows of a
   * truncated preview; `null` when they reach the whole result (or the
   * preview is the whole result).
   */
  whyRowsOnly(): string | null {
    const p = this._payload;
    if (!p.truncated || p.streaming) {
      return null;
    }
    const why = this.whyNotAsk();
    return why
      ? `the ${plural(p.rows.length, 'saved row')} only: ${why}`
      : null;
  }

  /**
   * Ask the kernel something about this result (`page`, `chart`, `profile`,
   * `export`), with the whole-result timeout; an expired result is
   * remembered, so that later questions are not sent.
   */
  async ask(
    op: string,
    args: { [name: string]: unknown } = {},
    options: IRequestOptions = {}
  ): Promise<IChannelMessage> {
    const why = this.whyNotAsk();
    if (why !== null) {
      return { op, ok: false, error: why };
    }
    const reply = await this._channel!.request(
      op,
      { ...args, result_id: this._payload.result_id },
      { timeoutMs: this._timeoutMs(), ...options }
    );
    if (!reply.ok && /has expired/.test(reply.error ?? '')) {
      this._expired = 'the whole result has expired (run the cell again)';
    }
    return reply;
  }

  /**
   * Whether a query needs Spark: the whole result is within reach and the
   * query asks for more than the saved rows in their order. The first page
   * in the result's order is always the saved one: showing an output never
   * asks the kernel for anything.
   */
  needsSpark(query: IRowsQuery): boolean {
    const plain = query.sort === null && query.filters.length === 0;
    const saved =
      plain &&
      (query.offset === 0 ||
        query.offset + query.limit <= this._payload.rows.length);
    return !saved && this.wholeResult;
  }

  /**
   * A page of the whole result, paged, sorted and filtered by Spark.
   */
  async sparkPage(query: IRowsQuery): Promise<IRowsPage | IRowsError> {
    const reply = await this.ask('page', {
      offset: query.offset,
      limit: Math.min(query.limit, MAX_PAGE_ROWS),
      sort: query.sort ? [this._sortKey(query.sort)] : [],
      filter: query.filters
    });
    if (!reply.ok) {
      return { error: reply.error ?? 'the kernel could not page the result' };
    }
    const page = reply as IPageReply;
    const plain = query.sort === null && query.filters.length === 0;
    return {
      rows: page.rows,
      cut: new Set(page.cut.map(([r, c]) => `${r},${c}`)),
      offset: page.offset,
      hasMore: page.has_more,
      total: page.has_more
        ? plain
          ? this._payload.row_count
          : null
        : page.offset + page.rows.length,
      origin: 'spark'
    };
  }

  /**
   * A page of the saved rows, filtered and sorted here. The first pages of
   * a truncated preview in its own order say that rows follow when Spark
   * has them.
   */
  savedPage(query: IRowsQuery): IRowsPage {
    const order = this.savedOrder(query);
    const slice = order.slice(query.offset, query.offset + query.limit);
    const cutSaved = new Set(this._payload.cut.map(([r, c]) => `${r},${c}`));
    const cut = new Set<string>();
    const rows = slice.map((r, i) => {
      this._payload.columns.forEach((_, c) => {
        if (cutSaved.has(`${r},${c}`)) {
          cut.add(`${i},${c}`);
        }
      });
      return this._payload.rows[r] ?? [];
    });
    const plain = query.sort === null && query.filters.length === 0;
    const more = plain && this.wholeResult;
    const total = more ? this._payload.row_count : order.length;
    return {
      rows,
      cut,
      offset: query.offset,
      hasMore: query.offset + rows.length < (total ?? Number.POSITIVE_INFINITY),
      total,
      origin: 'rows'
    };
  }

  /**
   * The saved rows that pass the filters, in the query's order (indices
   * into the payload's rows).
   */
  savedOrder(query: Pick<IRowsQuery, 'sort' | 'filters'>): number[] {
    const rows = this._payload.rows;
    const sort = query.sort;
    const order = sort
      ? sortedRowOrder(
          rows,
          sort.column,
          this._types[sort.column],
          sort.direction
        )
      : rows.map((_, i) => i);
    const filters = query.filters
      .map(f => ({ f, c: this._column(f.column) }))
      .filter(({ c }) => c >= 0);
    if (filters.length === 0) {
      return order;
    }
    return order.filter(r =>
      filters.every(({ f, c }) => matchesFilter(rows[r][c], this._types[c], f))
    );
  }

  private _column(name: string): number {
    return this._payload.columns.findIndex(c => c.name === name);
  }

  private _sortKey(sort: ISortState): ISortKey {
    return {
      column: this._payload.columns[sort.column].name,
      descending: sort.direction === 'descending'
    };
  }

  private _payload: ITablePayload;
  private _channel: SparkChannel | null;
  private _trusted: boolean;
  private _timeoutMs: () => number;
  private _types: SparkType[];
  private _expired: string | null = null;
}
