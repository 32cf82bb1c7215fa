/**
 * The chart view of a table output: kind, x, y with its aggregation and an
 * optional colour column, chosen in the output, drawn by JupyterLab's own
 * Vega-Lite renderer (vega-embed) from the notebook's rendermime registry.
 *
 * The points come from the rows of the output when they are the whole
 * result, and from Spark's `chart` op over the whole result when the
 * preview is truncated: never from a truncated preview alone.
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';

import {
  chartCaption,
  chartColumns,
  defaultChart,
  normalizeSettings,
  aggregateRows,
  VEGALITE_MIME_TYPE,
  vegaLiteSpec
} from './chart';
import { el } from './dom';
import { parseSparkType, plural } from './format';
import type { IRendererRegistry } from './rendered';
import type { TableRows } from './rows';
import {
  CHART_AGGS,
  CHART_KINDS,
  ChartAgg,
  ChartKind,
  IChartReply,
  IChartSettings,
  ISavedChart,
  ITablePayload
} from './types';

/**
 * Options of vega-embed for our charts (read by JupyterLab's Vega renderer
 * from the model's metadata): SVG, and only the export actions (no editor
 * that would send the data to another site).
 */
export const EMBED_OPTIONS = {
  renderer: 'svg',
  actions: { export: true, source: false, compiled: false, editor: false }
};

const KIND_LABELS: { [kind in ChartKind]: string } = {
  bar: 'Bar',
  line: 'Line',
  area: 'Area',
  scatter: 'Scatter',
  pie: 'Pie'
};

/**
 * A mime model holding one Vega-Lite spec.
 */
export function chartModel(
  spec: { [key: string]: unknown },
  trusted: boolean
): IRenderMime.IMimeModel {
  return {
    trusted,
    data: { [VEGALITE_MIME_TYPE]: spec as any },
    metadata: { [VEGALITE_MIME_TYPE]: { embed_options: EMBED_OPTIONS } },
    // JupyterLab's Vega renderer adds a PNG of the chart to its model: this
    // model is ours only, nothing keeps it.
    setData: () => undefined
  };
}

/**
 * Options of `ChartView`.
 */
export interface IChartViewOptions {
  payload: ITablePayload;
  rows: TableRows;
  renderers: IRendererRegistry | null;
  trusted: boolean;
  /** At most this many x values. */
  maxGroups: () => number;
  /** The chart saved with the output, shown as it is. */
  saved: ISavedChart | null;
  /** A new chart was drawn: keep it with the output. */
  onChart: (chart: ISavedChart) => void;
}

/**
 * The chart controls and the chart of one table output.
 */
export class ChartView {
  constructor(options: IChartViewOptions) {
    this._options = options;
    this.node = el('div', 'pysk-chart');
    const columns = chartColumns(options.payload.columns);
    const first = options.saved?.data ?? defaultChart(options.payload.columns);
    const controls = el('div', 'pysk-chart-controls');
    this.node.appendChild(controls);
    this._status = el('div', 'pysk-chart-status');
    this._status.setAttribute('aria-live', 'polite');
    this._plot = el('div', 'pysk-chart-plot');
    this._caption = el('div', 'pysk-chart-caption');
    this.node.append(this._status, this._plot, this._caption);
    if (!first) {
      this._status.textContent =
        'no column to chart: a chart groups by a column of simple values';
      return;
    }
    const choose = (
      name: string,
      text: string,
      options: [string, string][],
      value: string
    ): HTMLSelectElement => {
      const label = el('label', 'pysk-chart-field', text);
      const select = el('select', `pysk-select pysk-chart-${name}`);
      for (const [optionValue, optionText] of options) {
        const option = el('option', undefined, optionText);
        option.value = optionValue;
        select.appendChild(option);
      }
      select.value = value;
      select.addEventListener('change', () => this._changed());
      label.appendChild(select);
      controls.appendChild(label);
      return select;
    };
    const pairs = (names: string[]): [string, string][] =>
      names.map(n => [n, n]);
    this._kind = choose(
      'kind',
      'Chart',
      CHART_KINDS.map(k => [k, KIND_LABELS[k]]),
      first.kind
    );
    this._x = choose('x', 'x', pairs(columns.x), first.x);
    this._agg = choose(
      'agg',
      'y',
      CHART_AGGS.filter(a => a === 'count' || columns.y.length > 0).map(a => [
        a,
        a
      ]),
      first.agg
    );
    this._y = choose(
      'y',
      'of',
      pairs(columns.y),
      first.y ?? columns.y[0] ?? ''
    );
    this._color = choose(
      'color',
      'colour',
      [['', 'none'], ...pairs(columns.x)],
      first.color ?? ''
    );
    this._syncControls();
  }

  /**
   * The view's node, to put in the output.
   */
  readonly node: HTMLDivElement;

  /**
   * The settings the controls show; `null` when nothing can be charted.
   */
  get settings(): IChartSettings | null {
    if (!this._kind || !this._x || !this._agg || !this._y || !this._color) {
      return null;
    }
    const agg = this._agg.value as ChartAgg;
    return normalizeSettings({
      kind: this._kind.value as ChartKind,
      x: this._x.value,
      y: agg === 'count' ? null : this._y.value || null,
      agg,
      color: this._color.value || null
    });
  }

  /**
   * Show the saved chart, or compute one for the controls' settings.
   */
  async start(): Promise<void> {
    const saved = this._options.saved;
    if (saved) {
      await this._draw(saved);
    } else {
      await this.update();
    }
  }

  /**
   * Compute the chart of the controls' settings and draw it: over the rows
   * of the output when they are the whole result, else by Spark.
   */
  async update(): Promise<void> {
    const settings = this.settings;
    if (!settings) {
      return;
    }
    const run = ++this._run;
    const { payload, rows, maxGroups } = this._options;
    if (!payload.truncated) {
      const data = aggregateRows(
        payload.columns,
        payload.rows,
        settings,
        maxGroups()
      );
      await this._drawNew({ data, source: 'rows' }, run);
      return;
    }
    const why = rows.whyNotAsk();
    if (why !== null) {
      this._clear();
      this._showError(
        `this preview holds ${plural(payload.rows.length, 'row')} of more: ` +
          `a chart of the whole result needs Spark, but ${why}`
      );
      return;
    }
    this._status.textContent = 'Spark is aggregating the whole result\u2026';
    this.node.dataset.loading = 'true';
    const reply = await rows.ask('chart', {
      ...settings,
      max_groups: maxGroups()
    });
    if (run !== this._run || this._disposed) {
      return;
    }
    delete this.node.dataset.loading;
    if (!reply.ok) {
      this._clear();
      this._showError(reply.error ?? 'the kernel could not chart the result');
      return;
    }
    await this._drawNew(
      { data: (reply as IChartReply).chart, source: 'spark' },
      run
    );
  }

  dispose(): void {
    this._disposed = true;
    this._run += 1;
    this._renderer?.dispose();
    this._renderer = null;
  }

  private _changed(): void {
    this._syncControls();
    void this.update();
  }

  /**
   * y is chosen only for aggregations that need one.
   */
  private _syncControls(): void {
    if (this._y && this._agg) {
      const counting = this._agg.value === 'count';
      this._y.disabled = counting || this._y.options.length === 0;
      this._y.parentElement!.hidden = counting;
    }
  }

  private async _drawNew(chart: ISavedChart, run: number): Promise<void> {
    if (run !== this._run || this._disposed) {
      return;
    }
    this._options.onChart(chart);
    await this._draw(chart);
  }

  private async _draw(chart: ISavedChart): Promise<void> {
    this._clear();
    const renderers = this._options.renderers;
    if (!renderers || !renderers.getFactory(VEGALITE_MIME_TYPE)) {
      this._showError(
        "charts are drawn by JupyterLab's Vega-Lite renderer, which is not available here"
      );
      return;
    }
    const data = chart.data;
    const column = this._options.payload.columns.find(c => c.name === data.x);
    const width = Math.max(
      280,
      Math.min(900, (this.node.clientWidth || 720) - 160)
    );
    const spec = vegaLiteSpec(
      data,
      column ? parseSparkType(column.type) : null,
      width
    );
    const renderer = renderers.createRenderer(VEGALITE_MIME_TYPE);
    this._renderer = renderer;
    this._plot.appendChild(renderer.node);
    this.node.dataset.kind = data.kind;
    this.node.dataset.source = chart.source;
    this.node.dataset.points = String(data.rows.length);
    this._caption.textContent = chartCaption(
      chart,
      chart.source === 'rows' ? this._options.payload.rows.length : undefined
    );
    try {
      await renderer.renderModel(chartModel(spec, this._options.trusted));
    } catch (reason) {
      this._showError(`the chart cannot be drawn: ${reason}`);
    }
  }

  private _clear(): void {
    this._renderer?.dispose();
    this._renderer = null;
    this._plot.textContent = '';
    this._caption.textContent = '';
    this._status.textContent = '';
    this._status.classList.remove('pysk-error');
    delete this.node.dataset.kind;
    delete this.node.dataset.points;
    delete this.node.dataset.source;
  }

  private _showError(text: string): void {
    this._status.textContent = text;
    this._status.classList.add('pysk-error');
  }

  private _options: IChartViewOptions;
  private _kind: HTMLSelectElement | null = null;
  private _x: HTMLSelectElement | null = null;
  private _y: HTMLSelectElement | null = null;
  private _agg: HTMLSelectElement | null = null;
  private _color: HTMLSelectElement | null = null;
  private _status: HTMLDivElement;
  private _plot: HTMLDivElement;
  private _caption: HTMLDivElement;
  private _renderer: IRenderMime.IRenderer | null = null;
  private _run = 0;
  private _disposed = false;
}
