/**
 * Renderer of `application/vnd.pyspark-kernel.table.v1+json`: a DataFrame
 * preview with typed header, readable nested values, paging, sorting
 * (ascending, descending, the result's own order) and filters, over the
 * whole result through the kernel's `page` op when the preview does not
 * hold it; a Table / Chart switch, a column profile, CSV/TSV copy and a
 * download of the whole result.
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';

import { readViewState } from './chart';
import { ChartView } from './chartview';
import { el } from './dom';
import { exportResult, saveBlob } from './download';
import { FilterBar } from './filters';
import {
  CUT_MARK,
  formatBytes,
  formatCount,
  formatValue,
  isNumericType,
  ISortState,
  nextSort,
  parseSparkType,
  plural,
  SortDirection,
  SparkType,
  toDelimited
} from './format';
import { profileBlock } from './profile';
import { IRendererContext, RenderedPayload } from './rendered';
import { IRowsError, IRowsPage, IRowsQuery, TableRows } from './rows';
import {
  CellValue,
  ExportFormat,
  IFilter,
  IPreviewReply,
  IProfileReply,
  ITablePayload,
  ITableViewState,
  TABLE_MIME_TYPE
} from './types';

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
 * Why a preview is the schema only, by its `deferred` field.
 */
const DEFERRED = {
  plan: 'its plan needs a pass over all its input',
  budget: 'the preview ran past its time budget'
};

/**
 * The line that says how many rows there are.
 */
export function rowsNotice(payload: ITablePayload): string {
  const shown = payload.rows.length;
  if (payload.streaming) {
    return 'streaming';
  }
  if (payload.deferred !== null) {
    return `schema only: ${DEFERRED[payload.deferred]}`;
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
    result_id: typeof p.result_id === 'string' ? p.result_id : null,
    deferred:
      p.deferred === 'plan' || p.deferred === 'budget' ? p.deferred : null
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

function button(text: string, className: string): HTMLButtonElement {
  const b = el('button', `pysk-button ${className}`, text);
  b.type = 'button';
  return b;
}

const TABLE_STATE: ITableViewState = { view: 'table', chart: null };

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

  /**
   * Render a model. The same model again (after the view state was saved in
   * its metadata) keeps what is shown unless that state changed.
   */
  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const state = readViewState(model.metadata[TABLE_MIME_TYPE]) ?? TABLE_STATE;
    const data = JSON.stringify(model.data[this.mimeType]);
    if (
      model === this._model &&
      data === this._data &&
      JSON.stringify(state) === JSON.stringify(this._state)
    ) {
      return;
    }
    this._model = model;
    this._data = data;
    this._state = state;
    return super.renderModel(model);
  }

  /**
   * What the output shows: the table or the chart, and the chart chosen.
   */
  get viewState(): ITableViewState {
    return this._state;
  }

  /**
   * The rows of this output (saved, or the whole result through Spark).
   */
  get rows(): TableRows | null {
    return this._rows;
  }

  /**
   * The chart view, once the chart was shown.
   */
  get chart(): ChartView | null {
    return this._chart;
  }

  /**
   * The page shown last.
   */
  get shownPage(): IRowsPage | null {
    return this._shown;
  }

  protected parse(data: unknown): ITablePayload | null {
    return readTable(data);
  }

  /**
   * Render a payload from the start: the result's order, first page, the
   * saved view.
   */
  protected render(payload: ITablePayload): void {
    this._disposeChart();
    this._types = payload.columns.map(c => parseSparkType(c.type));
    this._rows = new TableRows({
      payload,
      channel: this.channel,
      trusted: this.trusted,
      timeoutMs: () => this.settings.resultTimeoutMs
    });
    this._sort = null;
    this._filters = [];
    this._offset = 0;
    this._shown = null;
    this._profiled = false;
    this._pageSize = this.settings.pageSize;
    this._build(payload);
    this._load();
    if (this._state.view === 'chart' && !payload.streaming) {
      this.showView('chart');
    }
  }

  /**
   * The shown rows as CSV or TSV: every saved row that passes the filters,
   * in the current order, or the page from Spark.
   */
  delimitedText(delimiter: ',' | '\t'): string {
    const payload = this.payload;
    const shown = this._shown;
    if (!payload || !this._rows) {
      return '';
    }
    if (shown && shown.origin === 'spark') {
      return toDelimited(payload.columns, shown.rows, {
        delimiter,
        cut: Array.from(
          shown.cut,
          k => k.split(',').map(Number) as [number, number]
        )
      });
    }
    return toDelimited(payload.columns, payload.rows, {
      delimiter,
      order: this._rows.savedOrder({
        sort: this._sort,
        filters: this._filters
      }),
      cut: payload.cut
    });
  }

  /**
   * Sort by a column. Without a direction, a click's cycle: ascending,
   * descending, then the result's own order.
   */
  sortBy(column: number, direction?: SortDirection): void {
    const payload = this.payload;
    if (!payload || column < 0 || column >= payload.columns.length) {
      return;
    }
    this._sort = direction
      ? { column, direction }
      : nextSort(this._sort, column);
    this._offset = 0;
    this._updateHeader();
    this._load();
  }

  /**
   * Show the rows in the result's own order.
   */
  clearSort(): void {
    this._sort = null;
    this._offset = 0;
    this._updateHeader();
    this._load();
  }

  /**
   * Keep only the rows that pass `filter` too.
   */
  addFilter(filter: IFilter): void {
    this._filters = [...this._filters, filter];
    this._offset = 0;
    this._renderFilters();
    this._load();
  }

  /**
   * Drop the filter at `index`.
   */
  removeFilter(index: number): void {
    this._filters = this._filters.filter((_, i) => i !== index);
    this._offset = 0;
    this._renderFilters();
    this._load();
  }

  /**
   * The filters applied.
   */
  get filters(): ReadonlyArray<IFilter> {
    return this._filters;
  }

  /**
   * Show a page of rows (0-based), clamped to the pages there are.
   */
  showPage(page: number): void {
    const shown = this._shown;
    let index = Math.max(0, page);
    if (shown && shown.total !== null) {
      index = Math.min(
        index,
        Math.max(0, Math.ceil(shown.total / this._pageSize) - 1)
      );
    }
    this._offset = index * this._pageSize;
    this._load();
  }

  /**
   * Show the rows after the shown ones.
   */
  nextPage(): void {
    const shown = this._shown;
    if (shown && shown.hasMore && shown.rows.length > 0) {
      this._offset = shown.offset + shown.rows.length;
      this._load();
    }
  }

  /**
   * Show the rows before the shown ones.
   */
  previousPage(): void {
    if (this._offset > 0) {
      this._offset = Math.max(0, this._offset - this._pageSize);
      this._load();
    }
  }

  /**
   * Show the table or the chart, and keep the choice with the output.
   */
  showView(view: 'table' | 'chart'): void {
    const payload = this.payload;
    if (!payload || payload.streaming) {
      return;
    }
    this.node.dataset.view = view;
    this._switch?.querySelectorAll('button').forEach(b => {
      b.setAttribute('aria-pressed', String(b.dataset.view === view));
    });
    if (this._tableHost) {
      this._tableHost.hidden = view !== 'table';
    }
    if (this._chartHost) {
      this._chartHost.hidden = view !== 'chart';
    }
    if (view === 'chart' && !this._chart && this._chartHost && this._rows) {
      this._chart = new ChartView({
        payload,
        rows: this._rows,
        renderers: this.rendermime,
        trusted: this.trusted,
        maxGroups: () => this.settings.chartGroups,
        saved: this._state.chart,
        onChart: chart => this._saveState({ view: 'chart', chart })
      });
      this._chartHost.appendChild(this._chart.node);
      void this._chart.start();
    }
    this._saveState({ ...this._state, view });
  }

  /**
   * Fetch the rows of a preview the kernel deferred, and keep them in the
   * output (saved with the notebook) in place of the schema.
   */
  async previewRows(): Promise<void> {
    const rows = this._rows;
    const payload = this.payload;
    const preview = this.node.querySelector<HTMLButtonElement>(
      '.pysk-preview-button'
    );
    if (!rows || !payload || !preview) {
      return;
    }
    preview.disabled = true;
    this._setNote('Spark is reading the preview\u2026');
    const reply = await rows.ask(
      'preview',
      payload.max_rows > 0 ? { max_rows: payload.max_rows } : {}
    );
    if (this.isDisposed || rows !== this._rows) {
      return;
    }
    this._setNote('');
    preview.disabled = false;
    if (!reply.ok) {
      this._showError(reply.error ?? 'the kernel could not run the preview');
      return;
    }
    const model = this._model;
    if (model) {
      const table = (reply as IPreviewReply).table;
      model.setData({ data: { ...model.data, [this.mimeType]: table as any } });
      // JupyterLab renders the changed output again; this does it once.
      await this.renderModel(model);
    }
  }

  /**
   * Ask Spark for the profile of every column and show it in the header.
   */
  async profile(): Promise<void> {
    const rows = this._rows;
    if (!rows || !this._profileButton) {
      return;
    }
    if (this._profiled) {
      this._profiled = false;
      this._clearProfile();
      this._profileButton.textContent = 'Profile';
      return;
    }
    this._profileButton.disabled = true;
    this._setNote('Spark is profiling every column\u2026');
    const reply = await rows.ask('profile');
    if (this.isDisposed || rows !== this._rows) {
      return;
    }
    this._profileButton.disabled = false;
    this._setNote('');
    if (!reply.ok) {
      this._showError(reply.error ?? 'the kernel could not profile the result');
      return;
    }
    const profile = (reply as IProfileReply).profile;
    this._clearProfile();
    for (const column of profile.columns) {
      const index = this.payload!.columns.findIndex(
        c => c.name === column.name
      );
      if (index >= 0) {
        this._headerCells[index].appendChild(profileBlock(column));
      }
    }
    this._profiled = true;
    this._profileButton.textContent = 'Hide profile';
    this._setNote(
      `profile of ${plural(profile.rows, 'row')}, computed by Spark`
    );
  }

  /**
   * Export the whole result and hand it to the browser's download.
   */
  async download(format: ExportFormat): Promise<void> {
    const rows = this._rows;
    const select = this._download;
    if (!rows || !select || this._downloading) {
      return;
    }
    this._downloading = true;
    select.disabled = true;
    const progress = el('progress', 'pysk-download-progress');
    const status = el('span', 'pysk-download-status');
    status.setAttribute('aria-live', 'polite');
    this._downloadBox?.replaceChildren(progress, status);
    const result = await exportResult(rows, format, p => {
      status.textContent = p.text;
      if (p.fraction === null) {
        progress.removeAttribute('value');
      } else {
        progress.value = p.fraction;
      }
    });
    this._downloading = false;
    select.disabled = false;
    select.value = '';
    progress.remove();
    if (!result.ok) {
      status.textContent = '';
      this._showError(result.error);
      return;
    }
    saveBlob(result.blob, result.fileName);
    status.textContent = `downloaded ${result.fileName} (${formatBytes(result.size)})`;
  }

  dispose(): void {
    if (this._statusTimer !== undefined) {
      window.clearTimeout(this._statusTimer);
    }
    this._disposeChart();
    super.dispose();
  }

  private _disposeChart(): void {
    this._chart?.dispose();
    this._chart = null;
  }

  /**
   * Keep the view state in the output's metadata (saved with the notebook).
   */
  private _saveState(next: ITableViewState): void {
    // In the form read back from the metadata, to compare like with like.
    const state = readViewState(next) ?? TABLE_STATE;
    if (JSON.stringify(state) === JSON.stringify(this._state)) {
      return;
    }
    this._state = state;
    const model = this._model;
    if (model) {
      model.setData({
        metadata: { ...model.metadata, [TABLE_MIME_TYPE]: state as any }
      });
    }
  }

  /**
   * Fetch and show the page the sort, filters and page number ask for:
   * at once from the saved rows, or from Spark.
   */
  private _load(): void {
    const rows = this._rows;
    const payload = this.payload;
    if (!rows || !payload || payload.streaming) {
      return;
    }
    const query: IRowsQuery = {
      sort: this._sort,
      filters: this._filters,
      offset: this._offset,
      limit: this._pageSize
    };
    const run = ++this._loadRun;
    this._showError('');
    if (!rows.needsSpark(query)) {
      this._show(rows.savedPage(query));
      return;
    }
    this.node.dataset.loading = 'true';
    this._setBusy(true);
    void rows.sparkPage(query).then((page: IRowsPage | IRowsError) => {
      if (run !== this._loadRun || this.isDisposed || rows !== this._rows) {
        return;
      }
      delete this.node.dataset.loading;
      this._setBusy(false);
      if ('error' in page) {
        this._showError(page.error);
        // The whole result is gone: show the saved rows, saying so.
        if (!rows.wholeResult) {
          this._offset = 0;
          this._show(rows.savedPage({ ...query, offset: 0 }));
        } else {
          this._renderPager();
        }
        return;
      }
      this._show(page);
    });
  }

  private _show(page: IRowsPage): void {
    this._shown = page;
    this.node.dataset.origin = page.origin;
    this._renderBody();
    this._renderPager();
  }

  private _setBusy(busy: boolean): void {
    if (this._prev && this._next) {
      this._prev.disabled = busy || this._offset === 0;
      this._next.disabled = busy || !(this._shown?.hasMore ?? false);
    }
    if (this._pageLabel && busy) {
      this._pageLabel.textContent = 'Spark is reading the rows\u2026';
    }
  }

  private _build(payload: ITablePayload): void {
    const node = this.node;
    this._headerCells = [];
    this._filterBar = null;
    delete node.dataset.view;
    delete node.dataset.origin;

    // Toolbar: source badge, row notice, view switch, actions.
    const toolbar = el('div', 'pysk-toolbar');
    const source = describeSource(payload);
    const badge = el('span', `pysk-badge pysk-source-${payload.source}`);
    badge.title = source.title;
    badge.appendChild(el('span', 'pysk-badge-kind', source.kind));
    if (source.detail) {
      badge.appendChild(el('span', 'pysk-badge-detail', source.detail));
    }
    toolbar.appendChild(badge);
    const canAsk =
      this.trusted && this.channel !== null && payload.result_id !== null;
    if (payload.streaming) {
      toolbar.appendChild(el('span', 'pysk-notice pysk-hint', STREAMING_HINT));
    } else {
      const notice = el('span', 'pysk-notice', rowsNotice(payload));
      if (payload.truncated) {
        notice.classList.add('pysk-notice-truncated');
        notice.title = `preview limited to ${plural(payload.max_rows, 'row')}`;
      }
      toolbar.appendChild(notice);
      if (payload.deferred !== null && canAsk) {
        const preview = button('Preview rows', 'pysk-preview-button');
        preview.title = 'run the preview now, with no time budget';
        preview.addEventListener('click', () => void this.previewRows());
        toolbar.appendChild(preview);
      }
      toolbar.appendChild(el('span', 'pysk-spacer'));
      this._switch = el('span', 'pysk-view-switch');
      this._switch.setAttribute('role', 'group');
      this._switch.setAttribute('aria-label', 'view');
      for (const [view, text] of [
        ['table', 'Table'],
        ['chart', 'Chart']
      ] as const) {
        const b = button(text, `pysk-view-${view}`);
        b.dataset.view = view;
        b.setAttribute('aria-pressed', String(view === 'table'));
        b.addEventListener('click', () => this.showView(view));
        this._switch.appendChild(b);
      }
      toolbar.appendChild(this._switch);
      this._filterBar = new FilterBar({
        columns: payload.columns,
        types: this._types,
        onAdd: filter => this.addFilter(filter),
        onRemove: index => this.removeFilter(index)
      });
      toolbar.appendChild(this._filterBar.toggle);
      if (canAsk) {
        this._profileButton = button('Profile', 'pysk-profile-button');
        this._profileButton.title =
          'null share, distinct values, range and histogram of every column, by Spark';
        this._profileButton.addEventListener(
          'click',
          () => void this.profile()
        );
        toolbar.appendChild(this._profileButton);
        this._download = el('select', 'pysk-select pysk-download');
        this._download.title = 'download the whole result, written by Spark';
        for (const [value, text] of [
          ['', 'Download\u2026'],
          ['csv', 'CSV'],
          ['parquet', 'Parquet']
        ]) {
          const option = el('option', undefined, text);
          option.value = value;
          this._download.appendChild(option);
        }
        this._download.addEventListener('change', () => {
          const format = this._download!.value as ExportFormat | '';
          if (format) {
            void this.download(format);
          }
        });
        toolbar.appendChild(this._download);
      } else {
        this._profileButton = null;
        this._download = null;
      }
      toolbar.appendChild(this._copyButton('Copy CSV', ','));
      toolbar.appendChild(this._copyButton('Copy TSV', '\t'));
      this._status = el('span', 'pysk-copy-status');
      this._status.setAttribute('aria-live', 'polite');
      toolbar.appendChild(this._status);
    }
    node.appendChild(toolbar);
    this._downloadBox = el('div', 'pysk-download-box');
    node.appendChild(this._downloadBox);

    this._tableHost = el('div', 'pysk-table-view');
    node.appendChild(this._tableHost);
    this._chartHost = el('div', 'pysk-chart-view');
    this._chartHost.hidden = true;
    node.appendChild(this._chartHost);
    if (!payload.streaming) {
      this._tableHost.appendChild(this._filterBar!.node);
    }
    this._error = el('div', 'pysk-table-error pysk-error');
    this._error.setAttribute('role', 'alert');
    this._error.hidden = true;
    this._tableHost.appendChild(this._error);

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
        th.addEventListener('click', event => {
          // A click in the profile (a histogram, a value) does not sort.
          if (!(event.target as Element).closest?.('.pysk-profile')) {
            this.sortBy(index);
          }
        });
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
    this._tableHost.appendChild(scroll);

    // Pager, and where the rows come from.
    this._pager = el('div', 'pysk-pager');
    this._prev = button('\u2039 Prev', 'pysk-prev');
    this._prev.addEventListener('click', () => this.previousPage());
    this._pageLabel = el('span', 'pysk-page-label');
    this._next = button('Next \u203a', 'pysk-next');
    this._next.addEventListener('click', () => this.nextPage());
    this._origin = el('span', 'pysk-origin');
    this._pager.append(this._prev, this._pageLabel, this._next, this._origin);
    this._tableHost.appendChild(this._pager);
    if (payload.streaming) {
      this._pager.hidden = true;
    }
  }

  private _renderFilters(): void {
    this._filterBar?.setFilters(this._filters);
  }

  private _copyButton(label: string, delimiter: ',' | '\t'): HTMLButtonElement {
    const b = button(label, 'pysk-copy');
    b.addEventListener('click', async () => {
      const text = this.delimitedText(delimiter);
      const ok = await copyText(text);
      const what = delimiter === ',' ? 'CSV' : 'TSV';
      const count = text.split(delimiter === ',' ? '\r\n' : '\n').length - 2;
      this._setStatus(
        ok ? `copied ${plural(count, 'row')} as ${what}` : 'copy failed'
      );
    });
    return b;
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

  private _showError(text: string): void {
    if (this._error) {
      this._error.textContent = text;
      this._error.hidden = !text;
    }
  }

  private _setNote(text: string): void {
    if (this._status) {
      this._status.textContent = text;
    }
  }

  private _clearProfile(): void {
    for (const th of this._headerCells) {
      th.querySelector('.pysk-profile')?.remove();
    }
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
    const page = this._shown;
    if (!payload || !tbody || !page) {
      return;
    }
    const fragment = document.createDocumentFragment();
    page.rows.forEach((row, r) => {
      const tr = document.createElement('tr');
      for (let c = 0; c < payload.columns.length; c++) {
        tr.appendChild(this._cell(row[c], page.cut.has(`${r},${c}`), c));
      }
      fragment.appendChild(tr);
    });
    tbody.textContent = '';
    tbody.appendChild(fragment);
  }

  private _renderPager(): void {
    const page = this._shown;
    if (
      !page ||
      !this._pager ||
      !this._prev ||
      !this._next ||
      !this._pageLabel
    ) {
      return;
    }
    const start = page.offset;
    const end = page.offset + page.rows.length;
    this._prev.disabled = start === 0;
    this._next.disabled = !page.hasMore;
    let label =
      end > start
        ? `rows ${formatCount(start + 1)}\u2013${formatCount(end)}`
        : 'no rows';
    if (page.total !== null) {
      label += ` of ${formatCount(page.total)}`;
    }
    if (start % this._pageSize === 0) {
      const index = start / this._pageSize + 1;
      label +=
        page.total !== null
          ? ` \u00b7 page ${index}/${Math.max(1, Math.ceil(page.total / this._pageSize))}`
          : ` \u00b7 page ${index}`;
    }
    this._pageLabel.textContent = label;
    const origin = this._originText(page);
    if (this._origin) {
      this._origin.textContent = origin;
    }
    this._pager.hidden = start === 0 && !page.hasMore && origin === '';
  }

  /**
   * Where the shown rows come from, when that matters: Spark, or the saved
   * rows of a truncated preview (and why).
   */
  private _originText(page: IRowsPage): string {
    const rows = this._rows;
    const changed = this._sort !== null || this._filters.length > 0;
    if (page.origin === 'spark') {
      return changed
        ? `${this._sort ? 'sorted' : 'filtered'} by Spark over the whole result`
        : 'from Spark: the whole result';
    }
    const why = rows?.whyRowsOnly() ?? null;
    if (why && (changed || !page.hasMore)) {
      return why;
    }
    return '';
  }

  private _cell(
    value: CellValue | undefined,
    cut: boolean,
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
    if (cut) {
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

  private _model: IRenderMime.IMimeModel | null = null;
  private _data = '';
  private _state: ITableViewState = TABLE_STATE;
  private _rows: TableRows | null = null;
  private _chart: ChartView | null = null;
  private _pageSize = 50;
  private _types: SparkType[] = [];
  private _sort: ISortState | null = null;
  private _filters: IFilter[] = [];
  private _offset = 0;
  private _shown: IRowsPage | null = null;
  private _loadRun = 0;
  private _profiled = false;
  private _downloading = false;
  private _headerCells: HTMLTableCellElement[] = [];
  private _tbody: HTMLTableSectionElement | null = null;
  private _pager: HTMLDivElement | null = null;
  private _prev: HTMLButtonElement | null = null;
  private _next: HTMLButtonElement | null = null;
  private _pageLabel: HTMLSpanElement | null = null;
  private _origin: HTMLSpanElement | null = null;
  private _error: HTMLDivElement | null = null;
  private _switch: HTMLSpanElement | null = null;
  private _tableHost: HTMLDivElement | null = null;
  private _chartHost: HTMLDivElement | null = null;
  private _filterBar: FilterBar | null = null;
  private _profileButton: HTMLButtonElement | null = null;
  private _download: HTMLSelectElement | null = null;
  private _downloadBox: HTMLDivElement | null = null;
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
