/**
 * Status bar item `Spark: <state> · <master>` for notebooks on a PySpark
 * kernel, refreshed with a silent execute request whose user expression
 * calls `pyspark_kernel.status_json()`.
 */
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { sparkUiHref } from './links';
import { ISparkStatus, SparkState } from './types';

/**
 * The user expression evaluated by the kernel; it returns a JSON string.
 */
export const STATUS_EXPRESSION = "__import__('pyspark_kernel').status_json()";

/**
 * Key of that expression in `user_expressions`.
 */
export const STATUS_KEY = 'pysk';

/**
 * Refresh period while the page is visible.
 */
export const STATUS_INTERVAL_MS = 5000;

const SPARK_STATES: ReadonlyArray<SparkState> = [
  'starting',
  'ready',
  'dead',
  'failed',
  'stopped'
];

const SIMPLE_ESCAPES: { [key: string]: string } = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v'
};

/**
 * The value of a Python `str` literal as `repr()` writes it (`'…'` or
 * `"…"`, with `\\`, `\'`, `\n`, `\xNN`, `\uNNNN`, `\UNNNNNNNN` and octal
 * escapes), or `null` if `text` is no such literal.
 */
export function parsePythonStr(text: string): string | null {
  const s = text.trim();
  const quote = s[0];
  if (
    s.length < 2 ||
    (quote !== "'" && quote !== '"') ||
    s[s.length - 1] !== quote
  ) {
    return null;
  }
  const end = s.length - 1;
  let out = '';
  for (let i = 1; i < end; i++) {
    const ch = s[i];
    if (ch === quote) {
      return null;
    }
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    i += 1;
    if (i >= end) {
      return null;
    }
    const e = s[i];
    if (e in SIMPLE_ESCAPES) {
      out += SIMPLE_ESCAPES[e];
    } else if (e === '\n') {
      // Line continuation.
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const size = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = s.slice(i + 1, i + 1 + size);
      if (
        hex.length !== size ||
        !/^[0-9a-fA-F]+$/.test(hex) ||
        i + size >= end
      ) {
        return null;
      }
      const code = parseInt(hex, 16);
      if (code > 0x10ffff) {
        return null;
      }
      out += String.fromCodePoint(code);
      i += size;
    } else if (e >= '0' && e <= '7') {
      let digits = e;
      while (
        digits.length < 3 &&
        i + 1 < end &&
        s[i + 1] >= '0' &&
        s[i + 1] <= '7'
      ) {
        i += 1;
        digits += s[i];
      }
      out += String.fromCharCode(parseInt(digits, 8));
    } else {
      // Python keeps unknown escapes as they are.
      out += '\\' + e;
    }
  }
  return out;
}

/**
 * A Spark status from the `text/plain` of the user expression: the repr of
 * the JSON string (or, leniently, the JSON itself); `null` if unreadable.
 */
export function parseStatusText(text: string): ISparkStatus | null {
  const json = parsePythonStr(text) ?? text.trim();
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch {
    return null;
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) {
    return null;
  }
  const d = data as { [key: string]: unknown };
  if (typeof d.state !== 'string') {
    return null;
  }
  const str = (v: unknown): string | null =>
    typeof v === 'string' && v !== '' ? v : null;
  return {
    // An unknown state is still shown, as it is.
    state: d.state as SparkState,
    master: str(d.master) ?? '',
    ui_url: str(d.ui_url),
    app_id: str(d.app_id),
    version: str(d.version) ?? ''
  };
}

/**
 * What one status request found.
 */
export type StatusResult =
  | { kind: 'ok'; status: ISparkStatus }
  /** The kernel has no `pyspark_kernel.status_json`: not our kernel. */
  | { kind: 'missing' }
  | { kind: 'error'; message: string };

/**
 * Read the `user_expressions` entry of the status expression.
 */
export function parseStatusResult(result: unknown): StatusResult {
  if (!result || typeof result !== 'object') {
    return { kind: 'error', message: 'no status in the reply' };
  }
  const r = result as {
    status?: string;
    data?: { [mime: string]: unknown };
    ename?: string;
    evalue?: string;
  };
  if (r.status === 'ok') {
    const text = r.data?.['text/plain'];
    const status = typeof text === 'string' ? parseStatusText(text) : null;
    return status
      ? { kind: 'ok', status }
      : { kind: 'error', message: 'unreadable status' };
  }
  if (r.ename === 'ModuleNotFoundError' || r.ename === 'AttributeError') {
    return { kind: 'missing' };
  }
  return {
    kind: 'error',
    message: `${r.ename ?? 'error'}: ${r.evalue ?? ''}`.trim()
  };
}

/**
 * The status bar widget.
 */
export class SparkStatusItem extends Widget {
  constructor() {
    super();
    this.addClass('pysk-Status');
    this._text = document.createElement('span');
    this._text.className = 'pysk-status-text';
    this._link = document.createElement('a');
    this._link.className = 'pysk-status-link';
    this._link.textContent = 'UI';
    this._link.target = '_blank';
    this._link.rel = 'noopener noreferrer';
    this._link.title = 'open the Spark UI';
    this.node.append(this._text, this._link);
    this.setResult(null);
  }

  /**
   * Show a status result; `null` shows an unknown state.
   */
  setResult(result: StatusResult | null): void {
    const node = this.node;
    for (const state of SPARK_STATES) {
      node.classList.remove(`pysk-status-${state}`);
    }
    node.classList.remove('pysk-status-error');
    this._link.hidden = true;
    this._link.removeAttribute('href');
    if (result === null || result.kind === 'missing') {
      this._text.textContent = 'Spark: \u2013';
      node.title = 'Spark status not known yet';
      delete node.dataset.state;
      return;
    }
    if (result.kind === 'error') {
      this._text.textContent = 'Spark: unknown';
      node.title = result.message;
      node.classList.add('pysk-status-error');
      delete node.dataset.state;
      return;
    }
    const s = result.status;
    node.dataset.state = s.state;
    node.classList.add(`pysk-status-${s.state}`);
    this._text.textContent = s.master
      ? `Spark: ${s.state} \u00b7 ${s.master}`
      : `Spark: ${s.state}`;
    const details = [
      s.version ? `Spark ${s.version}` : '',
      s.app_id ?? '',
      s.ui_url ?? ''
    ].filter(Boolean);
    node.title = details.join(' \u00b7 ') || 'Spark';
    const href = sparkUiHref(s.ui_url);
    if (href !== null) {
      this._link.href = href;
      this._link.hidden = false;
    }
  }

  private _text: HTMLSpanElement;
  private _link: HTMLAnchorElement;
}

type Kernel = NonNullable<
  NonNullable<NotebookPanel['sessionContext']['session']>['kernel']
>;

/**
 * Whether a kernel is a PySpark kernel: its spec name starts with `pyspark`,
 * or its display name mentions PySpark and its language is Python.
 */
export async function isPySparkKernel(
  kernel: Pick<Kernel, 'name' | 'info'>,
  displayName: string
): Promise<boolean> {
  if (/^pyspark/i.test(kernel.name)) {
    return true;
  }
  if (!/pyspark/i.test(displayName)) {
    return false;
  }
  try {
    const info = await kernel.info;
    return info.language_info?.name === 'python';
  } catch {
    return false;
  }
}

/**
 * Options of `SparkStatusPoller`.
 */
export interface IStatusPollerOptions {
  tracker: INotebookTracker;
  /** `NotebookActions.executed`: a cell finished. */
  executed: ISignal<unknown, { notebook: unknown }>;
  item: SparkStatusItem;
  interval?: number;
}

/**
 * Keeps a `SparkStatusItem` up to date for the current notebook: every
 * `interval` while the page is visible and the kernel idle, and after each
 * execution. Never queues a request behind a running cell.
 */
export class SparkStatusPoller {
  constructor(options: IStatusPollerOptions) {
    this._tracker = options.tracker;
    this._executed = options.executed;
    this._item = options.item;
    this._tracker.currentChanged.connect(this._onCurrentChanged, this);
    this._executed.connect(this._onExecuted, this);
    this._watch(this._tracker.currentWidget);
    this._timer = setInterval(
      () => void this.refresh(),
      options.interval ?? STATUS_INTERVAL_MS
    );
    if (typeof document !== 'undefined') {
      document.addEventListener('visibilitychange', this._onVisibility);
    }
  }

  /**
   * Emitted when the item should be shown or hidden.
   */
  get activeStateChanged(): ISignal<this, void> {
    return this._activeStateChanged;
  }

  /**
   * Whether the current notebook runs a PySpark kernel.
   */
  get isActive(): boolean {
    return this._active;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    clearInterval(this._timer);
    this._watch(null);
    this._tracker.currentChanged.disconnect(this._onCurrentChanged, this);
    this._executed.disconnect(this._onExecuted, this);
    if (typeof document !== 'undefined') {
      document.removeEventListener('visibilitychange', this._onVisibility);
    }
    Signal.clearData(this);
  }

  /**
   * Ask the current notebook's kernel for its Spark status now, if it is a
   * PySpark kernel and idle; otherwise remember to ask once it is idle.
   */
  async refresh(): Promise<void> {
    if (this._disposed) {
      return;
    }
    if (
      typeof document !== 'undefined' &&
      document.visibilityState === 'hidden'
    ) {
      return;
    }
    const panel = this._tracker.currentWidget;
    const kernel = panel?.sessionContext.session?.kernel ?? null;
    if (!panel || !kernel) {
      this._setActive(false);
      return;
    }
    let ours = this._ours.get(kernel);
    if (ours === undefined) {
      ours = await isPySparkKernel(
        kernel,
        panel.sessionContext.kernelDisplayName
      );
      this._ours.set(kernel, ours);
    }
    if (!ours) {
      this._setActive(false);
      return;
    }
    this._setActive(true);
    if (kernel.status !== 'idle' || this._inFlight) {
      this._pending = true;
      return;
    }
    this._inFlight = true;
    this._pending = false;
    let result: StatusResult;
    try {
      const reply = await kernel.requestExecute({
        code: '',
        silent: true,
        store_history: false,
        user_expressions: { [STATUS_KEY]: STATUS_EXPRESSION },
        allow_stdin: false,
        stop_on_error: false
      }).done;
      const content = reply.content as {
        status: string;
        user_expressions?: { [key: string]: unknown };
      };
      result =
        content.status === 'ok'
          ? parseStatusResult(content.user_expressions?.[STATUS_KEY])
          : { kind: 'error', message: 'status request failed' };
    } catch (reason) {
      result = { kind: 'error', message: String(reason) };
    } finally {
      this._inFlight = false;
    }
    if (
      this._disposed ||
      kernel !== this._tracker.currentWidget?.sessionContext.session?.kernel
    ) {
      return;
    }
    if (result.kind === 'missing') {
      this._ours.set(kernel, false);
      this._setActive(false);
      return;
    }
    this._item.setResult(result);
  }

  private _setActive(active: boolean): void {
    if (active !== this._active) {
      this._active = active;
      if (!active) {
        this._item.setResult(null);
      }
      this._activeStateChanged.emit();
    }
  }

  private _watch(panel: NotebookPanel | null): void {
    if (this._watched) {
      this._watched.sessionContext.statusChanged.disconnect(
        this._onKernelStatus,
        this
      );
      this._watched.sessionContext.kernelChanged.disconnect(
        this._onKernelChanged,
        this
      );
    }
    this._watched = panel;
    if (panel) {
      panel.sessionContext.statusChanged.connect(this._onKernelStatus, this);
      panel.sessionContext.kernelChanged.connect(this._onKernelChanged, this);
    }
  }

  private _onCurrentChanged(): void {
    this._watch(this._tracker.currentWidget);
    this._item.setResult(null);
    void this.refresh();
  }

  private _onExecuted(_: unknown, args: { notebook: unknown }): void {
    if (args.notebook === this._tracker.currentWidget?.content) {
      this._pending = true;
      void this.refresh();
    }
  }

  private _onKernelStatus(_: unknown, status: string): void {
    if (status === 'idle') {
      if (this._pending) {
        void this.refresh();
      }
    } else if (
      status === 'restarting' ||
      status === 'autorestarting' ||
      status === 'dead'
    ) {
      this._item.setResult(null);
      this._pending = true;
    }
  }

  private _onKernelChanged(): void {
    this._item.setResult(null);
    this._pending = true;
    void this.refresh();
  }

  private _onVisibility = (): void => {
    if (document.visibilityState === 'visible') {
      void this.refresh();
    }
  };

  private _tracker: INotebookTracker;
  private _executed: ISignal<unknown, { notebook: unknown }>;
  private _item: SparkStatusItem;
  private _timer: ReturnType<typeof setInterval>;
  private _watched: NotebookPanel | null = null;
  private _ours = new WeakMap<object, boolean>();
  private _active = false;
  private _inFlight = false;
  private _pending = false;
  private _disposed = false;
  private _activeStateChanged = new Signal<this, void>(this);
}
