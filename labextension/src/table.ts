/**
 * Renderer of `application/vnd.pyspark-kernel.table.v1+json`: a DataFrame
 * preview with typed header, readable nested values, client-side sort of the
 * shown rows, paging and CSV/TSV copy.
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';

import { el } from './dom';
import {
  CUT_MARK,
  formatCount,
  formatValue,
  isNumericType,
  parseSparkType,
  plural,
  SortDirection,
  sortedRowOrder,
  SparkType,
  toDelimited
} from './format';
import { IRendererContext, RenderedPayload } from './rendered';
import { CellValue, ITablePayload, TABLE_MIME_TYPE } from './types';

/** Types whose values read best on one line. */
const NO_WRAP = /^(boolean|date|timestamp|timestamp_ntz|interval)/;

const STREAMING_HINT = 'streaming DataFrame: start a query to see rows';

/**
 * Copy text to the clipboard: the async Clipboard API when there is one,
 * else a hidden textarea and `document.execCommand('copy')`.
 *
 * @returns whether the text was copied.
 */
export async function copyText(text: string): Promise<boolean> {
  const clipboard =
    typeof navigator !== 'undefined' ? navigator.clipboard : undefined;
  if (clipboard && typeof clipboard.writeText === 'function') {
    try {
      await clipboard.writeText(text);
      return true;
    } catch {
      // Not allowed here (permissions, insecure context): fall back.
    }
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.className = 'pysk-clipboard';
  document.body.appendChild(area);
  try {
    area.select();
    return document.execCommand('copy');
  } catch {
    return false;
  } finally {
    document.body.removeChild(area);
  }
}

/**
 * A short label and detail for where a preview came from.
 */
export function describeSource(payload: ITablePayload): {
  kind: string;
  detail: string | null;
  title: string;
} {
  switch (payload.source) {
    case 'expression':
      return {
        kind: 'expression',
        detail: null,
        title: "the value of the cell's last expression"
      };
    case 'parquet':
      return {
        kind: 'parquet',
        detail: payload.parquet_path,
        title: 'Parquet written by the cell'
      };
    case 'view':
      return {
        kind: 'view',
        detail: payload.view_name,
        title: 'temporary view created or replaced by the cell'
      };
    case 'direct_dataframe':
      return {
        kind: 'DataFrame',
        detail: payload.variable_name,
        title: 'DataFrame variable bound by the cell'
      };
    case 'sql':
      return {
        kind: 'sql',
        detail: payload.variable_name,
        title: payload.variable_name
          ? `SQL result, kept as ${payload.variable_name}`
          : 'SQL result'
      };
    case 'transform':
      return { kind: 'transform', detail: null, title: 'transform result' };
    default:
      return {
        kind: String(payload.source ?? 'result'),
        detail: null,
        title: 'result'
      };
  }
}

/**
 * The line that says how many rows there are.
 */
export function rowsNotice(payload: ITablePayload): string {
  const shown = payload.rows.length;
  if (payload.streaming) {
    return 'streaming';
  }
  if (payload.row_count !== null && payload.row_count !== undefined) {
    if (payload.row_count > shown) {
      return `showing ${formatCount(shown)} of ${plural(payload.row_count, 'row')}`;
    }
    return plural(payload.row_count, 'row');
  }
  if (payload.truncated) {
    return `showing ${plural(shown, 'row')}, more available`;
  }
  return shown === 0 ? 'no rows' : plural(shown, 'row');
}

/**
 * A table payload with defaults for missing fields; `null` if unreadable.
 */
export function readTable(data: unknown): ITablePayload | null {
  if (!data || typeof data !== 'object') {
    return null;
  }
  const p = data as Partial<ITablePayload>;
  if (!Array.isArray(p.columns)) {
    return null;
  }
  return {
    version: 1,
    columns: p.columns,
    rows: Array.isArray(p.rows) ? p.rows : [],
    truncated: !!p.truncated,
    max_rows: p.max_rows ?? 0,
    row_count: typeof p.row_count === 'number' ? p.row_count : null,
    cut: Array.isArray(p.cut) ? p.cut : [],
    source: p.source ?? 'expression',
    view_name: p.view_name ?? null,
    parquet_path: p.parquet_path ?? null,
    variable_name: p.variable_name ?? null,
    streaming: !!p.streaming,
    result_id: typeof p.result_id === 'string' ? p.result_id : null
  };
}

/**
 * The type line of a header: long nested types may wrap after `<`, `,` and
 * `:` only (with `<wbr>`), so short ones never break inside a word.
 */
function typeLabel(type: string): HTMLSpanElement {
  const span = el('span', 'pysk-col-type');
  for (const part of type.replace(/([<,:])/g, '$1\n').split('\n')) {
    if (span.firstChild) {
      span.appendChild(document.createElement('wbr'));
    }
    span.appendChild(document.createTextNode(part));
  }
  return span;
}

/**
 * A widget rendering a DataFrame preview.
 */
export class RenderedTable extends RenderedPayload<ITablePayload> {
  constructor(
    options: IRenderMime.IRendererOptions,
    context: IRendererContext = {}
  ) {
    super(options, context, 'pysk-Table', 'table');
  }

  protected parse(data: unknown): ITablePayload | null {
    return readTable(data);
  }

  /**
   * Render a payload from the start: original order, first page.
   */
  protected render(payload: ITablePayload): void {
    this._types = payload.columns.map(c => parseSparkType(c.type));
    this._cut = new Set(payload.cut.map(([r, c]) => `${r},${c}`));
    this._sort = null;
    this._order = payload.rows.map((_, i) => i);
    this._page = 0;
    this._pageSize = this.settings.pageSize;
    this._build(payload);
  }

  /**
   * The shown rows as CSV or TSV, in the current sort order.
   */
  delimitedText(delimiter: ',' | '\t'): string {
    if (!this.payload) {
      return '';
    }
    return toDelimited(this.payload.columns, this.payload.rows, {
      delimiter,
      order: this._order,
      cut: this.payload.cut
    });
  }

  /**
   * Sort the shown rows by a column; sorting the same column again toggles
   * the direction.
   */
  sortBy(column: number, direction?: SortDirection): void {
    const payload = this.payload;
    if (!payload || column < 0 || column >= payload.columns.length) {
      return;
    }
    if (!direction) {
      direction =
        this._sort?.column === column && this._sort.direction === 'ascending'
          ? 'descending'
          : 'ascending';
    }
    this._sort = { column, direction };
    this._order = sortedRowOrder(
      payload.rows,
      column,
      this._types[column],
      direction
    );
    this._page = 0;
    this._updateHeader();
    this._renderBody();
  }

  /**
   * Show a page of rows (0-based), clamped to the pages there are.
   */
  showPage(page: number): void {
    const pages = this._pageCount();
    this._page = Math.max(0, Math.min(page, pages - 1));
    this._renderBody();
  }

  dispose(): void {
    if (this._statusTimer !== undefined) {
      window.clearTimeout(this._statusTimer);
    }
    super.dispose();
  }

  private _pageCount(): number {
    return Math.max(1, Math.ceil(this._order.length / this._pageSize));
  }

  private _build(payload: ITablePayload): void {
    const node = this.node;
    this._headerCells = [];

    // Toolbar: source badge, row notice, copy buttons.
    const toolbar = el('div', 'pysk-toolbar');
    const source = describeSource(payload);
    const badge = el('span', `pysk-badge pysk-source-${payload.source}`);
    badge.title = source.title;
    badge.appendChild(el('span', 'pysk-badge-kind', source.kind));
    if (source.detail) {
      badge.appendChild(el('span', 'pysk-badge-detail', source.detail));
    }
    toolbar.appendChild(badge);
    if (payload.streaming) {
      toolbar.appendChild(el('span', 'pysk-notice pysk-hint', STREAMING_HINT));
    } else {
      const notice = el('span', 'pysk-notice', rowsNotice(payload));
      if (payload.truncated) {
        notice.classList.add('pysk-notice-truncated');
        notice.title = `preview limited to ${plural(payload.max_rows, 'row')}`;
      }
      toolbar.appendChild(notice);
      toolbar.appendChild(el('span', 'pysk-spacer'));
      toolbar.appendChild(this._copyButton('Copy CSV', ','));
      toolbar.appendChild(this._copyButton('Copy TSV', '\t'));
      this._status = el('span', 'pysk-copy-status');
      this._status.setAttribute('aria-live', 'polite');
      toolbar.appendChild(this._status);
    }
    node.appendChild(toolbar);

    // Table.
    const scroll = el('div', 'pysk-scroll');
    const table = el('table', 'pysk-table');
    const thead = el('thead');
    const headRow = el('tr');
    payload.columns.forEach((column, index) => {
      const th = el('th', 'pysk-th');
      th.dataset.col = String(index);
      th.title = `${column.name}: ${column.type}${column.nullable ? '' : ' (not null)'}`;
      if (isNumericType(this._types[index])) {
        th.classList.add('pysk-num');
      }
      const name = el('span', 'pysk-col-name', column.name);
      name.appendChild(el('span', 'pysk-sort-indicator'));
      th.appendChild(name);
      th.appendChild(typeLabel(column.type));
      if (!payload.streaming) {
        th.classList.add('pysk-sortable');
        th.tabIndex = 0;
        th.setAttribute('aria-sort', 'none');
        th.addEventListener('click', () => this.sortBy(index));
        th.addEventListener('keydown', (event: KeyboardEvent) => {
          if (event.key === 'Enter' || event.key === ' ') {
            event.preventDefault();
            this.sortBy(index);
          }
        });
      }
      this._headerCells.push(th);
      headRow.appendChild(th);
    });
    thead.appendChild(headRow);
    table.appendChild(thead);
    this._tbody = el('tbody');
    table.appendChild(this._tbody);
    scroll.appendChild(table);
    node.appendChild(scroll);

    // Pager, shown only when there is more than one page.
    this._pager = el('div', 'pysk-pager');
    this._prev = el('button', 'pysk-button', '\u2039 Prev');
    this._prev.type = 'button';
    this._prev.addEventListener('click', () => this.showPage(this._page - 1));
    this._pageLabel = el('span', 'pysk-page-label');
    this._next = el('button', 'pysk-button', 'Next \u203a');
    this._next.type = 'button';
    this._next.addEventListener('click', () => this.showPage(this._page + 1));
    this._pager.append(this._prev, this._pageLabel, this._next);
    node.appendChild(this._pager);

    this._renderBody();
  }

  private _copyButton(label: string, delimiter: ',' | '\t'): HTMLButtonElement {
    const button = el('button', 'pysk-button pysk-copy', label);
    button.type = 'button';
    button.addEventListener('click', async () => {
      const ok = await copyText(this.delimitedText(delimiter));
      const what = delimiter === ',' ? 'CSV' : 'TSV';
      this._setStatus(
        ok
          ? `copied ${plural(this._order.length, 'row')} as ${what}`
          : 'copy failed'
      );
    });
    return button;
  }

  private _setStatus(text: string): void {
    if (!this._status) {
      return;
    }
    this._status.textContent = text;
    if (this._statusTimer !== undefined) {
      window.clearTimeout(this._statusTimer);
    }
    this._statusTimer = window.setTimeout(() => {
      if (this._status) {
        this._status.textContent = '';
      }
      this._statusTimer = undefined;
    }, 2000);
  }

  private _updateHeader(): void {
    this._headerCells.forEach((th, index) => {
      const indicator = th.querySelector('.pysk-sort-indicator');
      const active = this._sort?.column === index;
      const direction = active ? this._sort!.direction : 'none';
      th.setAttribute('aria-sort', direction);
      th.classList.toggle('pysk-sorted', active);
      if (indicator) {
        indicator.textContent =
          direction === 'ascending'
            ? ' \u25b2'
            : direction === 'descending'
              ? ' \u25bc'
              : '';
      }
    });
  }

  private _renderBody(): void {
    const payload = this.payload;
    const tbody = this._tbody;
    if (!payload || !tbody) {
      return;
    }
    const start = this._page * this._pageSize;
    const end = Math.min(this._order.length, start + this._pageSize);
    const fragment = document.createDocumentFragment();
    for (let k = start; k < end; k++) {
      const r = this._order[k];
      const row = payload.rows[r] ?? [];
      const tr = document.createElement('tr');
      for (let c = 0; c < payload.columns.length; c++) {
        tr.appendChild(this._cell(row[c], r, c));
      }
      fragment.appendChild(tr);
    }
    tbody.textContent = '';
    tbody.appendChild(fragment);

    const pages = this._pageCount();
    if (this._pager && this._prev && this._next && this._pageLabel) {
      this._pager.hidden = pages <= 1;
      this._prev.disabled = this._page === 0;
      this._next.disabled = this._page >= pages - 1;
      this._pageLabel.textContent = `rows ${formatCount(start + 1)}\u2013${formatCount(end)} of ${formatCount(this._order.length)} \u00b7 page ${this._page + 1}/${pages}`;
    }
  }

  private _cell(
    value: CellValue | undefined,
    row: number,
    column: number
  ): HTMLTableCellElement {
    const td = document.createElement('td');
    const type = this._types[column];
    if (isNumericType(type)) {
      td.className = 'pysk-num';
    } else if (type.kind === 'atomic' && NO_WRAP.test(type.name)) {
      td.className = 'pysk-nowrap';
    }
    if (value === null || value === undefined) {
      const span = el('span', 'pysk-null', 'null');
      td.appendChild(span);
      return td;
    }
    if (value === '') {
      const span = el('span', 'pysk-empty', '""');
      span.title = 'empty string';
      td.appendChild(span);
      return td;
    }
    const text = formatValue(value, type, false);
    if (this._cut.has(`${row},${column}`)) {
      td.classList.add('pysk-cut');
      td.textContent = text + CUT_MARK;
      td.title = 'value shortened in the preview';
    } else {
      td.textContent = text;
      if (text.length > 80) {
        td.title = text;
      }
    }
    return td;
  }

  private _pageSize = 50;
  private _types: SparkType[] = [];
  private _cut = new Set<string>();
  private _order: number[] = [];
  private _sort: { column: number; direction: SortDirection } | null = null;
  private _page = 0;
  private _headerCells: HTMLTableCellElement[] = [];
  private _tbody: HTMLTableSectionElement | null = null;
  private _pager: HTMLDivElement | null = null;
  private _prev: HTMLButtonElement | null = null;
  private _next: HTMLButtonElement | null = null;
  private _pageLabel: HTMLSpanElement | null = null;
  private _status: HTMLSpanElement | null = null;
  private _statusTimer: number | undefined = undefined;
}

/**
 * Renderer factory for table payloads.
 */
export function tableRendererFactory(
  context: IRendererContext = {}
): IRenderMime.IRendererFactory {
  return {
    safe: true,
    mimeTypes: [TABLE_MIME_TYPE],
    defaultRank: 0,
    createRenderer: options => new RenderedTable(options, context)
  };
}
