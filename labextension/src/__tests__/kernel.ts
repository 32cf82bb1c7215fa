/**
 * A stand-in for JupyterLab's kernel connection and session context, with
 * just what `SparkChannel` uses, so the channel's behaviour (opening, replies,
 * restarts, reconnects) can be checked message by message. The real kernel
 * and JupyterLab are exercised by tests/browser/test_lab.py.
 */
import { Signal } from '@lumino/signaling';

import { ChannelSession, SparkChannel } from '../channel';
import type { IChannelMessage } from '../types';

/**
 * One comm as the frontend sees it, recording what it sent.
 */
export class FakeComm {
  constructor(
    readonly targetName: string,
    readonly commId: string
  ) {}

  isDisposed = false;
  opened: unknown[] = [];
  sent: { [key: string]: any }[] = [];
  closed = false;
  onMsg: ((msg: any) => void) | null = null;
  onClose: ((msg: any) => void) | null = null;
  subshellStarted?: Promise<void>;

  open(data: unknown): void {
    this.opened.push(data);
  }

  send(data: { [key: string]: any }): void {
    if (this.isDisposed) {
      throw new Error('Cannot send');
    }
    this.sent.push(data);
  }

  close(): void {
    this.closed = true;
    this.onClose?.({ content: { comm_id: this.commId, data: {} } });
    this.dispose();
  }

  dispose(): void {
    this.isDisposed = true;
  }

  /**
   * The kernel sends `data` on this comm.
   */
  receive(data: IChannelMessage | unknown): void {
    this.onMsg?.({ content: { comm_id: this.commId, data } });
  }

  /**
   * The kernel sends `data` with binary buffers.
   */
  receiveWith(data: unknown, buffers?: DataView[]): void {
    this.onMsg?.({ content: { comm_id: this.commId, data }, buffers });
  }

  /**
   * The kernel closes the comm.
   */
  closeFromKernel(): void {
    this.onClose?.({ content: { comm_id: this.commId, data: {} } });
    this.dispose();
  }

  /**
   * The last request sent.
   */
  get last(): { [key: string]: any } {
    return this.sent[this.sent.length - 1];
  }
}

/**
 * A kernel connection.
 */
export class FakeKernel {
  constructor(
    options: {
      name?: string;
      implementation?: string;
      language?: string;
      /** The kernel has subshells; each comm's subshell starts with this. */
      subshell?: Promise<void>;
    } = {}
  ) {
    this.name = options.name ?? 'pyspark';
    this.supportsSubshells = options.subshell !== undefined;
    this._subshell = options.subshell;
    this.info = Promise.resolve({
      implementation: options.implementation ?? 'pyspark_kernel',
      language_info: { name: options.language ?? 'python' }
    });
  }

  readonly name: string;
  readonly info: Promise<any>;
  supportsSubshells: boolean;
  status = 'idle';
  connectionStatus = 'connected';
  isDisposed = false;
  comms: FakeComm[] = [];
  statusChanged = new Signal<this, string>(this);
  connectionStatusChanged = new Signal<this, string>(this);
  iopubMessage = new Signal<this, any>(this);
  private _subshell?: Promise<void>;

  createComm(targetName: string): FakeComm {
    const comm = new FakeComm(targetName, `comm-${this.comms.length + 1}`);
    comm.subshellStarted = this._subshell;
    this.comms.push(comm);
    return comm;
  }

  /**
   * The comm created last.
   */
  get comm(): FakeComm {
    return this.comms[this.comms.length - 1];
  }

  setStatus(status: string): void {
    this.status = status;
    if (status === 'restarting' || status === 'autorestarting') {
      // As JupyterLab does: the comms of a restarting kernel are disposed.
      for (const comm of this.comms) {
        comm.dispose();
      }
    }
    this.statusChanged.emit(status);
  }

  setConnection(status: string): void {
    this.connectionStatus = status;
    this.connectionStatusChanged.emit(status);
  }

  /**
   * An iopub message of type `msgType` arrives.
   */
  iopub(msgType: string): void {
    this.iopubMessage.emit({ header: { msg_type: msgType }, content: {} });
  }
}

/**
 * A notebook's session context.
 */
export class FakeSession {
  constructor(kernel: FakeKernel | null) {
    this.session = kernel ? { kernel } : null;
  }

  session: { kernel: FakeKernel | null } | null;
  kernelChanged = new Signal<this, any>(this);

  setKernel(kernel: FakeKernel | null): void {
    const oldValue = this.session?.kernel ?? null;
    this.session = kernel ? { kernel } : null;
    this.kernelChanged.emit({ name: 'kernel', oldValue, newValue: kernel });
  }

  /**
   * As the channel's options want it.
   */
  get context(): ChannelSession {
    return this as unknown as ChannelSession;
  }
}

/**
 * Let pending promise callbacks run (works under fake timers too).
 */
export async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await Promise.resolve();
  }
}

/**
 * Open a channel's comm the way a pyspark kernel does: a `status` and a
 * `streams` push.
 */
export function answerOpen(
  kernel: FakeKernel,
  status: unknown,
  streams: unknown
): void {
  kernel.comm.receive(status);
  kernel.comm.receive(streams);
}

/**
 * A channel to a pyspark kernel, open (the kernel answered with its pushes).
 */
export async function openChannel(
  timeoutMs = 1000
): Promise<{ channel: SparkChannel; kernel: FakeKernel }> {
  const kernel = new FakeKernel();
  const session = new FakeSession(kernel);
  const channel = new SparkChannel({
    sessionContext: session.context,
    timeoutMs: () => timeoutMs
  });
  await flush();
  kernel.comm.receive({
    op: 'status',
    push: true,
    ok: true,
    status: { state: 'ready', master: 'local[*]' }
  });
  kernel.comm.receive({ op: 'streams', push: true, ok: true, queries: [] });
  return { channel, kernel };
}

/**
 * The kernel answers the last request with `reply` (its id set), after the
 * request was sent.
 */
export async function answer(
  kernel: FakeKernel,
  reply: { [key: string]: unknown },
  buffers?: DataView[]
): Promise<{ [key: string]: any }> {
  await flush();
  const request = kernel.comm.last;
  kernel.comm.receiveWith({ ...reply, id: request.id }, buffers);
  await flush();
  return request;
}
