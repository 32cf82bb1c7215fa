/**
 * Renderer of `application/vnd.pyspark-kernel.stream.v1+json`: the live
 * status of one streaming query, with a sparkline of its rates and a Stop
 * button.
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';

import { formatCount, formatDuration, formatRate } from './format';
import {
  IStopStreamDetail,
  IStreamPayload,
  IStreamPoint,
  STOP_STREAM_EVENT,
  STREAM_MIME_TYPE
} from './types';

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * Stop code the extension agrees to run: `%streams stop <id>` and nothing
 * else, since the payload may come from a notebook someone else wrote.
 */
export const STOP_CODE_PATTERN = /^%streams stop [A-Za-z0-9_-]{1,128}$/;

/**
 * Whether a stop code is one the extension agrees to run.
 */
export function isSafeStopCode(code: unknown): code is string {
  return typeof code === 'string' && STOP_CODE_PATTERN.test(code);
}

/**
 * Size of the sparkline, in CSS pixels.
 */
export const SPARKLINE_WIDTH = 160;
export const SPARKLINE_HEIGHT = 36;

/**
 * An inline SVG sparkline of input and processed rows/s over `history`, one
 * point per batch in each of its two polylines.
 */
export function sparkline(history: ReadonlyArray<IStreamPoint>): SVGSVGElement {
  const w = SPARKLINE_WIDTH;
  const h = SPARKLINE_HEIGHT;
  const pad = 2;
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('class', 'pysk-sparkline');
  svg.setAttribute('width', String(w));
  svg.setAttribute('height', String(h));
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('role', 'img');
  const title = document.createElementNS(SVG_NS, 'title');
  title.textContent = `rows/s over the last ${history.length} batches: input and processed`;
  svg.appendChild(title);

  const values = history.flatMap(p => [
    finite(p.input_rows_per_second),
    finite(p.processed_rows_per_second)
  ]);
  const max = Math.max(1, ...values);
  const step = history.length > 1 ? (w - 2 * pad) / (history.length - 1) : 0;
  const x = (i: number) => (history.length > 1 ? pad + i * step : w / 2);
  const y = (v: number) => h - pad - (finite(v) / max) * (h - 2 * pad);
  const series: [string, (p: IStreamPoint) => number][] = [
    ['pysk-spark-input', p => p.input_rows_per_second],
    ['pysk-spark-processed', p => p.processed_rows_per_second]
  ];
  for (const [className, value] of series) {
    const line = document.createElementNS(SVG_NS, 'polyline');
    line.setAttribute('class', className);
    line.setAttribute(
      'points',
      history.map((p, i) => `${round(x(i))},${round(y(value(p)))}`).join(' ')
    );
    line.setAttribute('fill', 'none');
    svg.appendChild(line);
    if (history.length > 0) {
      const last = history[history.length - 1];
      const dot = document.createElementNS(SVG_NS, 'circle');
      dot.setAttribute('class', `${className} pysk-spark-dot`);
      dot.setAttribute('cx', String(round(x(history.length - 1))));
      dot.setAttribute('cy', String(round(y(value(last)))));
      dot.setAttribute('r', '1.5');
      svg.appendChild(dot);
    }
  }
  return svg;
}

function finite(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

function normalize(data: unknown): IStreamPayload | null {
  if (!data || typeof data !== 'object') {
    return null;
  }
  const p = data as Partial<IStreamPayload>;
  if (typeof p.id !== 'string') {
    return null;
  }
  return {
    version: 1,
    id: p.id,
    run_id: p.run_id ?? '',
    name: p.name ?? null,
    state: p.state ?? 'starting',
    message: p.message ?? '',
    batch_id: p.batch_id ?? null,
    num_input_rows: p.num_input_rows ?? 0,
    input_rows_per_second: p.input_rows_per_second ?? 0,
    processed_rows_per_second: p.processed_rows_per_second ?? 0,
    batch_duration_ms: p.batch_duration_ms ?? null,
    watermark: p.watermark ?? null,
    state_rows: p.state_rows ?? null,
    sources: Array.isArray(p.sources) ? p.sources : [],
    sink: p.sink ?? '',
    history: Array.isArray(p.history) ? p.history : [],
    error: p.error ?? null,
    stop_code: p.stop_code ?? ''
  };
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/**
 * A widget rendering the live status of a streaming query.
 */
export class RenderedStream extends Widget implements IRenderMime.IRenderer {
  constructor(options: IRenderMime.IRendererOptions) {
    super();
    this._mimeType = options.mimeType;
    this.addClass('pysk-Stream');
  }

  /**
   * Render the payload; called again on each `update_display_data`.
   */
  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const payload = normalize(model.data[this._mimeType]);
    this._payload = payload;
    const node = this.node;
    node.textContent = '';
    if (!payload) {
      delete node.dataset.state;
      node.appendChild(
        el(
          'div',
          'pysk-error',
          'pyspark-kernel: this stream payload cannot be read'
        )
      );
      return;
    }
    if (this._stopRequested !== null && this._stopRequested !== payload.id) {
      this._stopRequested = null;
    }
    node.dataset.state = payload.state;

    // Head: name, id, state, Stop.
    const head = el('div', 'pysk-stream-head');
    head.appendChild(
      el('span', 'pysk-stream-name', payload.name ?? 'unnamed query')
    );
    const id = el('span', 'pysk-stream-id', payload.id.slice(0, 8));
    id.title = `id ${payload.id}\nrun id ${payload.run_id}`;
    head.appendChild(id);
    head.appendChild(
      el('span', `pysk-state pysk-state-${payload.state}`, payload.state)
    );
    head.appendChild(el('span', 'pysk-spacer'));
    head.appendChild(this._stopButton(payload));
    node.appendChild(head);

    if (payload.message) {
      node.appendChild(el('div', 'pysk-stream-message', payload.message));
    }
    if (payload.state === 'failed' || payload.error) {
      node.appendChild(
        el('pre', 'pysk-error', payload.error ?? 'query failed')
      );
    }

    // Metrics and sparkline.
    const body = el('div', 'pysk-stream-body');
    const metrics = el('dl', 'pysk-metrics');
    const add = (label: string, value: string, title?: string) => {
      const dt = el('dt', undefined, label);
      const dd = el('dd', undefined, value);
      if (title) {
        dd.title = title;
      }
      metrics.append(dt, dd);
    };
    add(
      'batch',
      payload.batch_id === null ? '\u2013' : String(payload.batch_id),
      `${formatCount(payload.num_input_rows)} input rows in the last batch`
    );
    add('input', `${formatRate(payload.input_rows_per_second)} rows/s`);
    add('processed', `${formatRate(payload.processed_rows_per_second)} rows/s`);
    add(
      'batch duration',
      payload.batch_duration_ms === null
        ? '\u2013'
        : formatDuration(payload.batch_duration_ms)
    );
    if (payload.watermark) {
      add('watermark', payload.watermark);
    }
    if (payload.state_rows !== null) {
      add('state rows', formatCount(payload.state_rows));
    }
    if (payload.sink) {
      add('sink', payload.sink);
    }
    body.appendChild(metrics);
    if (payload.history.length > 0) {
      const chart = el('div', 'pysk-spark');
      chart.appendChild(sparkline(payload.history));
      const legend = el('div', 'pysk-spark-legend');
      legend.append(
        el('span', 'pysk-legend-input', 'input'),
        el('span', 'pysk-legend-processed', 'processed')
      );
      chart.appendChild(legend);
      body.appendChild(chart);
    }
    node.appendChild(body);

    // Sources, with Kafka lag where known.
    if (payload.sources.length > 0) {
      const list = el('ul', 'pysk-sources');
      for (const source of payload.sources) {
        const item = el('li', 'pysk-source');
        const description = el(
          'span',
          'pysk-source-description',
          source.description
        );
        description.title = [
          `start ${source.start_offset ?? '\u2013'}`,
          `end ${source.end_offset ?? '\u2013'}`,
          `latest ${source.latest_offset ?? '\u2013'}`
        ].join('\n');
        item.appendChild(description);
        const lag = el(
          'span',
          'pysk-lag',
          source.lag === null || source.lag === undefined
            ? 'lag unknown'
            : `lag ${formatCount(source.lag)}`
        );
        if (source.lag !== null && source.lag !== undefined && source.lag > 0) {
          lag.classList.add('pysk-lag-behind');
        }
        item.appendChild(lag);
        list.appendChild(item);
      }
      node.appendChild(list);
    }

    this._hint = el('div', 'pysk-stop-hint');
    this._hint.hidden = true;
    node.appendChild(this._hint);
  }

  private _stopButton(payload: IStreamPayload): HTMLButtonElement {
    const button = el('button', 'pysk-button pysk-stop', 'Stop');
    button.type = 'button';
    const live = payload.state === 'active' || payload.state === 'starting';
    const safe = isSafeStopCode(payload.stop_code);
    if (!live) {
      button.disabled = true;
      button.title = `query ${payload.state}`;
    } else if (!safe) {
      button.disabled = true;
      button.title = 'this display carries no stop command the extension runs';
    } else if (this._stopRequested === payload.id) {
      button.disabled = true;
      button.textContent = 'Stopping\u2026';
    } else {
      button.title = `run ${payload.stop_code}`;
    }
    button.addEventListener('click', () => this._requestStop(button));
    return button;
  }

  private _requestStop(button: HTMLButtonElement): void {
    const payload = this._payload;
    if (!payload || button.disabled || !isSafeStopCode(payload.stop_code)) {
      return;
    }
    button.disabled = true;
    button.textContent = 'Stopping\u2026';
    this._stopRequested = payload.id;
    const event = new CustomEvent<IStopStreamDetail>(STOP_STREAM_EVENT, {
      bubbles: true,
      cancelable: true,
      detail: { code: payload.stop_code, id: payload.id }
    });
    const handled = !this.node.dispatchEvent(event);
    if (!handled) {
      // Nothing took it (no notebook kernel around this output).
      this._stopRequested = null;
      button.disabled = false;
      button.textContent = 'Stop';
      if (this._hint) {
        this._hint.hidden = false;
        this._hint.textContent = `No kernel took the request: run ${payload.stop_code} in a cell to stop this query.`;
      }
    }
  }

  private _mimeType: string;
  private _payload: IStreamPayload | null = null;
  private _stopRequested: string | null = null;
  private _hint: HTMLDivElement | null = null;
}

/**
 * Renderer factory for stream payloads.
 */
export const streamRendererFactory: IRenderMime.IRendererFactory = {
  safe: true,
  mimeTypes: [STREAM_MIME_TYPE],
  defaultRank: 0,
  createRenderer: options => new RenderedStream(options)
};
