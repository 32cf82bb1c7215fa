/**
 * Renderer of `application/vnd.pyspark-kernel.stream.v1+json`: the live
 * status of one streaming query, with a sparkline of its rates and a Stop
 * button.
 *
 * In a notebook the renderer follows the kernel's `streams` pushes for its
 * query run (`run_id`), so a display re-attaches to its live query after a
 * page reload, and Stop sends `stop_stream` over the channel. Outside a
 * notebook, without a kernel, or for an untrusted output it shows the payload
 * as saved, with no button.
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';

import type { SparkChannel } from './channel';
import { el, link } from './dom';
import { formatCount, formatDuration, formatRate } from './format';
import { IRendererContext, RenderedPayload } from './rendered';
import { IStreamPayload, IStreamPoint, STREAM_MIME_TYPE } from './types';

const SVG_NS = 'http://www.w3.org/2000/svg';

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

/**
 * A stream payload with defaults for missing fields; `null` if unreadable.
 * Fields the schema does not know are dropped.
 */
export function readStream(data: unknown): IStreamPayload | null {
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
    ui_url: p.ui_url ?? null
  };
}

/**
 * Whether a query in this state can be stopped.
 */
function isLive(payload: IStreamPayload): boolean {
  return payload.state === 'active' || payload.state === 'starting';
}

/**
 * A widget rendering the status of a streaming query.
 */
export class RenderedStream extends RenderedPayload<IStreamPayload> {
  constructor(
    options: IRenderMime.IRendererOptions,
    context: IRendererContext = {}
  ) {
    super(options, context, 'pysk-Stream', 'stream');
    this.channel?.streamsChanged.connect(this._onStreams, this);
  }

  /**
   * What is shown: the kernel's entry for this run when the channel has one,
   * else the payload as saved; with `stopped` once a Stop succeeded.
   */
  get shown(): IStreamPayload | null {
    const saved = this.payload;
    if (!saved) {
      return null;
    }
    const live = this.channel?.stream(saved.run_id);
    const shown = (live && readStream(live)) ?? saved;
    if (this._stopped === shown.run_id && isLive(shown)) {
      return { ...shown, state: 'stopped' };
    }
    return shown;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.channel?.streamsChanged.disconnect(this._onStreams, this);
    super.dispose();
  }

  protected parse(data: unknown): IStreamPayload | null {
    return readStream(data);
  }

  protected render(saved: IStreamPayload): void {
    const channel = this.channel;
    const known = channel?.stream(saved.run_id) !== undefined;
    const payload = this.shown ?? saved;
    const node = this.node;
    node.dataset.state = payload.state;
    node.dataset.source = known ? 'kernel' : 'saved';

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
    if (payload.ui_url) {
      head.appendChild(link(payload.ui_url, 'Spark UI', 'pysk-link'));
    }
    // Actions reach the kernel: trusted outputs on an open channel only.
    if (channel?.isOpen && this.trusted) {
      head.appendChild(this._stopButton(channel, payload, known));
    }
    node.appendChild(head);

    if (channel?.isOpen && !known && isLive(payload)) {
      node.appendChild(
        el(
          'div',
          'pysk-stream-note',
          'not running in this kernel: shown as saved'
        )
      );
    }
    if (this._stopError !== null) {
      const error = el(
        'div',
        'pysk-stop-error',
        `Stop failed: ${this._stopError}`
      );
      error.title = this._stopError;
      node.appendChild(error);
    }
    if (payload.message) {
      node.appendChild(el('div', 'pysk-stream-message', payload.message));
    }
    if (payload.state === 'failed' || payload.error) {
      node.appendChild(
        el('pre', 'pysk-error', payload.error ?? 'query failed')
      );
    }
    node.appendChild(this._body(payload));
    if (payload.sources.length > 0) {
      node.appendChild(this._sources(payload));
    }
  }

  /**
   * Metrics and sparkline.
   */
  private _body(payload: IStreamPayload): HTMLDivElement {
    const body = el('div', 'pysk-stream-body');
    const metrics = el('dl', 'pysk-metrics');
    const add = (label: string, value: string, title?: string) => {
      const dd = el('dd', undefined, value);
      if (title) {
        dd.title = title;
      }
      metrics.append(el('dt', undefined, label), dd);
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
    return body;
  }

  /**
   * Sources, with Kafka lag where known.
   */
  private _sources(payload: IStreamPayload): HTMLUListElement {
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
      const known = source.lag !== null && source.lag !== undefined;
      const lag = el(
        'span',
        'pysk-lag',
        known ? `lag ${formatCount(source.lag!)}` : 'lag unknown'
      );
      if (known && source.lag! > 0) {
        lag.classList.add('pysk-lag-behind');
      }
      item.appendChild(lag);
      list.appendChild(item);
    }
    return list;
  }

  private _stopButton(
    channel: SparkChannel,
    payload: IStreamPayload,
    known: boolean
  ): HTMLButtonElement {
    const button = el('button', 'pysk-button pysk-stop', 'Stop');
    button.type = 'button';
    if (!known) {
      button.disabled = true;
      button.title = 'this query is not running in this kernel';
    } else if (!isLive(payload)) {
      button.disabled = true;
      button.title = `query ${payload.state}`;
    } else if (this._stopping === payload.run_id) {
      button.disabled = true;
      button.textContent = 'Stopping\u2026';
    } else {
      button.title = 'stop this streaming query';
      button.addEventListener('click', () => {
        void this._stop(channel, payload);
      });
    }
    return button;
  }

  private async _stop(
    channel: SparkChannel,
    payload: IStreamPayload
  ): Promise<void> {
    if (this._stopping !== null) {
      return;
    }
    this._stopping = payload.run_id;
    this._stopError = null;
    this.redraw();
    const reply = await channel.request('stop_stream', { query: payload.id });
    this._stopping = null;
    if (reply.ok) {
      this._stopped = payload.run_id;
    } else {
      this._stopError = firstLine(reply.error ?? 'no reason given');
    }
    if (!this.isDisposed) {
      this.redraw();
    }
  }

  private _onStreams(): void {
    if (this.payload) {
      this.redraw();
    }
  }

  private _stopping: string | null = null;
  private _stopped: string | null = null;
  private _stopError: string | null = null;
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0].trim() || 'no reason given';
}

/**
 * Renderer factory for stream payloads.
 */
export function streamRendererFactory(
  context: IRendererContext = {}
): IRenderMime.IRendererFactory {
  return {
    safe: true,
    mimeTypes: [STREAM_MIME_TYPE],
    defaultRank: 0,
    createRenderer: options => new RenderedStream(options, context)
  };
}
