/**
 * Status bar item `Spark: <state> · <master>` for the current notebook, fed
 * by the `status` pushes of its kernel channel (no requests of its own).
 */
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import type { SparkChannel } from './channel';
import { el, safeHref } from './dom';
import type { LabSettings } from './settings';
import type { ISparkStatus } from './types';

/**
 * The item's text: `Spark: ready · local[*]`.
 */
export function statusText(status: ISparkStatus): string {
  return status.master
    ? `Spark: ${status.state} \u00b7 ${status.master}`
    : `Spark: ${status.state}`;
}

/**
 * The item's tooltip: why the session is not ready, version, app id, UI.
 */
export function statusTitle(status: ISparkStatus): string {
  return (
    [
      status.error ?? '',
      status.remote ? 'Spark Connect' : '',
      status.version ? `Spark ${status.version}` : '',
      status.app_id ?? '',
      status.ui_url ?? ''
    ]
      .filter(Boolean)
      .join(' \u00b7 ') || 'Spark'
  );
}

/**
 * The status bar widget.
 */
export class SparkStatusItem extends Widget {
  constructor() {
    super();
    this.addClass('pysk-Status');
    this._text = el('span', 'pysk-status-text');
    this._link = el('a', 'pysk-status-link', 'UI');
    this._link.target = '_blank';
    this._link.rel = 'noopener noreferrer';
    this._link.title = 'open the Spark UI';
    this.node.append(this._text, this._link);
    this.setStatus(null);
  }

  /**
   * Show a status; `null` shows that none is known.
   */
  setStatus(status: ISparkStatus | null): void {
    const node = this.node;
    for (const name of Array.from(node.classList)) {
      if (name.startsWith('pysk-status-')) {
        node.classList.remove(name);
      }
    }
    const href = safeHref(status?.ui_url);
    this._link.hidden = !href;
    if (href) {
      this._link.href = href;
    } else {
      this._link.removeAttribute('href');
    }
    if (!status) {
      this._text.textContent = 'Spark: \u2013';
      node.title = 'Spark status not known yet';
      delete node.dataset.state;
      return;
    }
    node.dataset.state = status.state;
    node.classList.add(`pysk-status-${status.state}`);
    this._text.textContent = statusText(status);
    node.title = statusTitle(status);
  }

  private _text: HTMLSpanElement;
  private _link: HTMLAnchorElement;
}

/**
 * Options of `SparkStatusFollower`.
 */
export interface IStatusFollowerOptions {
  tracker: Pick<INotebookTracker, 'currentWidget' | 'currentChanged'>;
  /** The channel of a notebook panel. */
  channelOf: (panel: NotebookPanel) => SparkChannel | undefined;
  item: SparkStatusItem;
  settings?: LabSettings | null;
}

/**
 * Keeps a `SparkStatusItem` showing the status of the current notebook's
 * channel; the item is active while that channel knows a status.
 */
export class SparkStatusFollower implements IDisposable {
  constructor(options: IStatusFollowerOptions) {
    this._tracker = options.tracker;
    this._channelOf = options.channelOf;
    this._item = options.item;
    this._settings = options.settings ?? null;
    this._tracker.currentChanged.connect(this._follow, this);
    this._settings?.changed.connect(this._update, this);
    this._follow();
  }

  /**
   * Emitted when the item should be shown or hidden.
   */
  get activeStateChanged(): ISignal<this, void> {
    return this._activeStateChanged;
  }

  /**
   * Whether the item is shown: the current notebook's kernel speaks the
   * channel (and the settings allow it).
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
    this._channel?.statusChanged.disconnect(this._update, this);
    this._tracker.currentChanged.disconnect(this._follow, this);
    this._settings?.changed.disconnect(this._update, this);
    Signal.clearData(this);
  }

  private _follow(): void {
    const panel = this._tracker.currentWidget;
    const channel = panel ? (this._channelOf(panel) ?? null) : null;
    if (channel !== this._channel) {
      this._channel?.statusChanged.disconnect(this._update, this);
      this._channel = channel;
      this._channel?.statusChanged.connect(this._update, this);
    }
    this._update();
  }

  private _update(): void {
    const status = this._channel?.status ?? null;
    this._item.setStatus(status);
    const active =
      status !== null && (this._settings?.current.statusBar ?? true);
    if (active !== this._active) {
      this._active = active;
      this._activeStateChanged.emit();
    }
  }

  private _tracker: IStatusFollowerOptions['tracker'];
  private _channelOf: IStatusFollowerOptions['channelOf'];
  private _item: SparkStatusItem;
  private _settings: LabSettings | null;
  private _channel: SparkChannel | null = null;
  private _active = false;
  private _disposed = false;
  private _activeStateChanged = new Signal<this, void>(this);
}
