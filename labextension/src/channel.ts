/**
 * The client of the kernel's `pyspark-kernel.v1` comm (docs/channel.md): one
 * per notebook, following the notebook's kernel through restarts, reconnects
 * and kernel changes.
 */
import type { ISessionContext } from '@jupyterlab/apputils';
import type { Kernel, KernelMessage } from '@jupyterlab/services';
import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import {
  CHANNEL_TARGET,
  ICatalog,
  IChannelMessage,
  ISparkStatus,
  IStreamPayload
} from './types';

/**
 * How long the comm waits for its kernel subshell before opening on the main
 * shell (where replies wait for a running cell to end).
 */
export const SUBSHELL_WAIT_MS = 5000;

/**
 * Kernel states in which the kernel's comms are gone.
 */
const GONE = new Set(['restarting', 'autorestarting', 'dead']);

/**
 * The part of a notebook's session context the channel follows.
 */
export type ChannelSession = Pick<ISessionContext, 'session' | 'kernelChanged'>;

/**
 * Options of `SparkChannel`.
 */
export interface ISparkChannelOptions {
  sessionContext: ChannelSession;
  /** Milliseconds to wait for a reply; read at each request. */
  timeoutMs: () => number;
}

/**
 * Options of one request.
 */
export interface IRequestOptions {
  /**
   * Milliseconds to wait for the reply (default: the channel's timeout); the
   * wait starts again at each intermediate message.
   */
  timeoutMs?: number;
  /**
   * Called with each intermediate message of the request (same `op` and
   * `id`, no `ok`: the chunks of an `export`) and its binary buffers.
   */
  onPart?: (part: { [field: string]: unknown }, buffers: DataView[]) => void;
}

/**
 * Whether `data` is a channel message: an object with a string `op` and a
 * boolean `ok`.
 */
export function isChannelMessage(data: unknown): data is IChannelMessage {
  if (!data || typeof data !== 'object' || Array.isArray(data)) {
    return false;
  }
  const m = data as { [key: string]: unknown };
  return typeof m.op === 'string' && typeof m.ok === 'boolean';
}

/**
 * One notebook's channel to its kernel.
 *
 * The comm is opened as soon as the kernel is a pyspark kernel (kernel info
 * `implementation` `pyspark_kernel`, or a kernel spec named `pyspark…`); for
 * another Python kernel only once a renderer `want`s it (the kernel may have
 * run `%load_ext pyspark_kernel`). A kernel that refuses the comm is asked
 * again only once it ran a cell and a renderer wants it, or after a restart.
 */
export class SparkChannel implements IDisposable {
  constructor(options: ISparkChannelOptions) {
    this._session = options.sessionContext;
    this._timeoutMs = options.timeoutMs;
    this._session.kernelChanged.connect(this._onKernelChanged, this);
    this._attach(this._session.session?.kernel ?? null);
  }

  /**
   * Whether the kernel answered the comm: requests can be sent.
   */
  get isOpen(): boolean {
    return this._comm !== null && this._answered;
  }

  /**
   * The session's state from the last `status` push or reply; `null` while
   * the channel is not open.
   */
  get status(): ISparkStatus | null {
    return this._status;
  }

  /**
   * Emitted with the new status (or `null` when the channel closed).
   */
  get statusChanged(): ISignal<this, ISparkStatus | null> {
    return this._statusChanged;
  }

  /**
   * The catalog of the last `catalog` push or reply; `null` until one came.
   */
  get catalog(): ICatalog | null {
    return this._catalog;
  }

  /**
   * Emitted with the new catalog (or `null` when the channel closed).
   */
  get catalogChanged(): ISignal<this, ICatalog | null> {
    return this._catalogChanged;
  }

  /**
   * The queries of the last `streams` push or reply, by `run_id`.
   */
  get streams(): ReadonlyMap<string, IStreamPayload> {
    return this._streams;
  }

  /**
   * Emitted when `streams` changed (emptied when the channel closed).
   */
  get streamsChanged(): ISignal<this, ReadonlyMap<string, IStreamPayload>> {
    return this._streamsChanged;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /**
   * The kernel's latest entry for one query run, if it knows that run.
   */
  stream(runId: string): IStreamPayload | undefined {
    return this._streams.get(runId);
  }

  /**
   * Ask for the comm even if the kernel is not a pyspark kernel: one of our
   * displays is in the notebook.
   */
  want(): void {
    this._wanted = true;
    void this._open();
  }

  /**
   * Send a request and wait for its reply. Never rejects: no channel, a
   * timeout or a kernel restart give an `ok: false` reply with an `error`.
   */
  request(
    op: string,
    args: { [name: string]: unknown } = {},
    options: IRequestOptions = {}
  ): Promise<IChannelMessage> {
    const id = `r${++this._lastId}`;
    const failed = (error: string): IChannelMessage => ({
      op,
      id,
      ok: false,
      error
    });
    const comm = this._comm;
    if (!comm || !this._answered) {
      return Promise.resolve(failed('the kernel channel is not open'));
    }
    return new Promise<IChannelMessage>(resolve => {
      const timeoutMs = options.timeoutMs ?? this._timeoutMs();
      const expire = () =>
        setTimeout(() => {
          this._pending.delete(id);
          resolve(
            failed(
              `no reply from the kernel in ${Math.round(timeoutMs / 1000)} s`
            )
          );
        }, timeoutMs);
      this._pending.set(id, {
        op,
        resolve,
        timer: expire(),
        restart: expire,
        onPart: options.onPart
      });
      try {
        comm.send({ ...args, op, id });
      } catch (reason) {
        this._settle(id, failed(`cannot send to the kernel: ${reason}`));
      }
    });
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._session.kernelChanged.disconnect(this._onKernelChanged, this);
    this._attach(null);
    Signal.clearData(this);
  }

  private _onKernelChanged(
    _: unknown,
    change: { newValue: Kernel.IKernelConnection | null }
  ): void {
    this._attach(change.newValue);
  }

  /**
   * Follow another kernel (or none): close the comm to the old one.
   */
  private _attach(kernel: Kernel.IKernelConnection | null): void {
    const old = this._kernel;
    if (old) {
      old.statusChanged.disconnect(this._onStatus, this);
      old.connectionStatusChanged.disconnect(this._onConnection, this);
      old.iopubMessage.disconnect(this._onIOPub, this);
      const comm = this._comm;
      if (comm && !comm.isDisposed && !old.isDisposed) {
        try {
          comm.close();
        } catch {
          // The kernel is going away: nothing to tell it.
        }
      }
    }
    this._drop('the notebook changed its kernel');
    this._kernel = kernel;
    this._kind = null;
    this._wanted = false;
    this._refused = false;
    this._declined = false;
    if (kernel) {
      kernel.statusChanged.connect(this._onStatus, this);
      kernel.connectionStatusChanged.connect(this._onConnection, this);
      kernel.iopubMessage.connect(this._onIOPub, this);
      void this._open();
    }
  }

  /**
   * Forget the comm and what it said; answer pending requests with `reason`.
   */
  private _drop(reason: string): void {
    this._generation += 1;
    this._comm = null;
    this._answered = false;
    this._opening = false;
    for (const id of Array.from(this._pending.keys())) {
      const op = this._pending.get(id)!.op;
      this._settle(id, { op, id, ok: false, error: reason });
    }
    if (this._status !== null) {
      this._status = null;
      this._statusChanged.emit(null);
    }
    if (this._streams.size > 0) {
      this._streams = new Map();
      this._streamsChanged.emit(this._streams);
    }
    if (this._catalog !== null) {
      this._catalog = null;
      this._catalogChanged.emit(null);
    }
  }

  private async _open(): Promise<void> {
    const kernel = this._kernel;
    if (!kernel || this._comm || this._opening || this._refused) {
      return;
    }
    if (GONE.has(kernel.status) || kernel.isDisposed) {
      return;
    }
    this._opening = true;
    const generation = this._generation;
    const current = () =>
      generation === this._generation && kernel === this._kernel;
    try {
      if (this._kind === null) {
        const info = await kernel.info;
        if (!current()) {
          return;
        }
        this._kind =
          info.implementation === 'pyspark_kernel' ||
          /^pyspark/i.test(kernel.name)
            ? 'pyspark'
            : info.language_info?.name === 'python'
              ? 'python'
              : 'other';
      }
      const eager = this._kind === 'pyspark' && !this._declined;
      if (this._kind === 'other' || !(eager || this._wanted)) {
        return;
      }
      const comm = kernel.createComm(CHANNEL_TARGET);
      comm.onMsg = msg => this._onMessage(comm, msg);
      comm.onClose = () => this._onClose(comm);
      this._comm = comm;
      // JupyterLab's comm (`CommHandler`) starts a kernel subshell for its
      // target when the kernel has subshells, so that requests are answered
      // while a cell runs; open once it is there.
      const started = (comm as { subshellStarted?: Promise<void> })
        .subshellStarted;
      if (kernel.supportsSubshells && started) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          started,
          new Promise<void>(resolve => {
            timer = setTimeout(resolve, SUBSHELL_WAIT_MS);
          })
        ]).catch(() => undefined);
        clearTimeout(timer);
        if (!current()) {
          comm.dispose();
          return;
        }
      }
      comm.open({});
    } catch (reason) {
      if (current()) {
        console.warn(
          'pyspark-kernel-lab: cannot open the kernel channel',
          reason
        );
        this._comm = null;
      }
    } finally {
      if (current()) {
        this._opening = false;
      }
    }
  }

  private _onMessage(comm: Kernel.IComm, msg: KernelMessage.ICommMsgMsg): void {
    if (comm !== this._comm) {
      return;
    }
    const data = msg.content.data as unknown;
    if (!isChannelMessage(data)) {
      if (!this._part(data, msg.buffers)) {
        console.warn('pyspark-kernel-lab: unreadable channel message', data);
      }
      return;
    }
    this._answered = true;
    if (data.ok) {
      this._take(data);
    }
    if (data.push !== true && data.id !== undefined && data.id !== null) {
      this._settle(String(data.id), data);
    }
  }

  /**
   * Hand an intermediate message (the request's `op` and `id`, no `ok`) to
   * its request; false if no pending request wants it.
   */
  private _part(
    data: unknown,
    buffers: KernelMessage.ICommMsgMsg['buffers']
  ): boolean {
    if (!data || typeof data !== 'object' || Array.isArray(data)) {
      return false;
    }
    const part = data as { [field: string]: unknown };
    const pending =
      typeof part.id === 'string' ? this._pending.get(part.id) : undefined;
    if (!pending || pending.op !== part.op || 'ok' in part) {
      return false;
    }
    clearTimeout(pending.timer);
    pending.timer = pending.restart();
    const views = (buffers ?? []).map(b =>
      b instanceof DataView
        ? b
        : ArrayBuffer.isView(b)
          ? new DataView(b.buffer, b.byteOffset, b.byteLength)
          : new DataView(b)
    );
    try {
      pending.onPart?.(part, views);
    } catch (reason) {
      console.warn('pyspark-kernel-lab: a request part failed', reason);
    }
    return true;
  }

  /**
   * Keep what a `status`, `streams` or `catalog` message says.
   */
  private _take(message: IChannelMessage): void {
    const status = message.op === 'status' ? readStatus(message.status) : null;
    if (status) {
      this._status = status;
      this._statusChanged.emit(status);
    } else if (message.op === 'streams' && Array.isArray(message.queries)) {
      const streams = new Map<string, IStreamPayload>();
      for (const query of message.queries as IStreamPayload[]) {
        if (query && typeof query.run_id === 'string') {
          streams.set(query.run_id, query);
        }
      }
      this._streams = streams;
      this._streamsChanged.emit(streams);
    } else if (message.op === 'catalog' && isCatalog(message.catalog)) {
      this._catalog = message.catalog;
      this._catalogChanged.emit(message.catalog);
    }
  }

  private _settle(id: string, reply: IChannelMessage): void {
    const pending = this._pending.get(id);
    if (pending) {
      this._pending.delete(id);
      clearTimeout(pending.timer);
      pending.resolve(reply);
    }
  }

  private _onClose(comm: Kernel.IComm): void {
    if (comm !== this._comm) {
      return;
    }
    if (!this._answered) {
      // Closed before a word: the kernel has no such target (yet). Ask
      // again only once a cell ran and one of our displays wants it.
      this._refused = true;
      this._declined = true;
      this._wanted = false;
    }
    this._drop('the kernel closed the channel');
  }

  private _onStatus(kernel: Kernel.IKernelConnection, status: string): void {
    if (GONE.has(status)) {
      // JupyterLab disposes the comms of a restarting kernel.
      this._drop('the kernel restarted');
      this._wanted = false;
      this._refused = false;
      this._declined = false;
    } else if ((status === 'idle' || status === 'busy') && !this._comm) {
      void this._open();
    }
  }

  private _onConnection(
    kernel: Kernel.IKernelConnection,
    status: Kernel.ConnectionStatus
  ): void {
    if (status !== 'connected') {
      return;
    }
    if (this.isOpen) {
      // Pushes sent while the websocket was down are lost: ask again.
      void this.request('status');
      void this.request('streams');
    } else {
      void this._open();
    }
  }

  private _onIOPub(
    kernel: Kernel.IKernelConnection,
    msg: KernelMessage.IIOPubMessage
  ): void {
    if (this._refused && msg.header.msg_type === 'execute_input') {
      // A cell ran: it may have loaded the extension.
      this._refused = false;
    }
  }

  private _session: ChannelSession;
  private _timeoutMs: () => number;
  private _kernel: Kernel.IKernelConnection | null = null;
  private _kind: 'pyspark' | 'python' | 'other' | null = null;
  private _comm: Kernel.IComm | null = null;
  private _answered = false;
  private _opening = false;
  private _wanted = false;
  private _refused = false;
  private _declined = false;
  private _generation = 0;
  private _lastId = 0;
  private _pending = new Map<
    string,
    {
      op: string;
      resolve: (reply: IChannelMessage) => void;
      timer: ReturnType<typeof setTimeout>;
      restart: () => ReturnType<typeof setTimeout>;
      onPart?: IRequestOptions['onPart'];
    }
  >();
  private _status: ISparkStatus | null = null;
  private _streams: Map<string, IStreamPayload> = new Map();
  private _catalog: ICatalog | null = null;
  private _catalogChanged = new Signal<this, ICatalog | null>(this);
  private _disposed = false;
  private _statusChanged = new Signal<this, ISparkStatus | null>(this);
  private _streamsChanged = new Signal<
    this,
    ReadonlyMap<string, IStreamPayload>
  >(this);
}

/**
 * A session status from a message's `status`, with `null` for missing
 * fields; `null` if it has no string `state`.
 */
export function readStatus(value: unknown): ISparkStatus | null {
  if (!value || typeof value !== 'object') {
    return null;
  }
  const v = value as { [key: string]: unknown };
  if (typeof v.state !== 'string') {
    return null;
  }
  const text = (x: unknown) => (typeof x === 'string' && x ? x : null);
  return {
    state: v.state as ISparkStatus['state'],
    master: text(v.master),
    remote: v.remote === true,
    app_id: text(v.app_id),
    ui_url: text(v.ui_url),
    version: text(v.version),
    error: text(v.error)
  };
}

/**
 * Whether `value` is a catalog listing (the fields the data browser reads).
 */
export function isCatalog(value: unknown): value is ICatalog {
  if (!value || typeof value !== 'object') {
    return false;
  }
  const c = value as { [key: string]: unknown };
  return (
    Array.isArray(c.databases) &&
    Array.isArray(c.temp_views) &&
    Array.isArray(c.global_views) &&
    Array.isArray(c.dataframes)
  );
}
