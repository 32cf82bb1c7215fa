import { isChannelMessage, SparkChannel, SUBSHELL_WAIT_MS } from '../channel';
import { CHANNEL_TARGET, ISparkStatus } from '../types';
import { channelFixtures } from './helpers';
import { answerOpen, flush, FakeKernel, FakeSession } from './kernel';

const channels: SparkChannel[] = [];

function connect(
  kernel: FakeKernel | null,
  timeoutMs = 1000
): { channel: SparkChannel; session: FakeSession } {
  const session = new FakeSession(kernel);
  const channel = new SparkChannel({
    sessionContext: session.context,
    timeoutMs: () => timeoutMs
  });
  channels.push(channel);
  return { channel, session };
}

async function opened(kernel: FakeKernel): Promise<SparkChannel> {
  const { channel } = connect(kernel);
  await flush();
  answerOpen(
    kernel,
    channelFixtures.statusReply(),
    channelFixtures.streamsPush()
  );
  return channel;
}

/**
 * The fixture reply to `request`, with the request's id.
 */
function replyTo(request: { [key: string]: any }, reply: object): object {
  return { ...reply, id: request.id };
}

afterEach(() => {
  while (channels.length) {
    channels.pop()!.dispose();
  }
  jest.useRealTimers();
});

describe('SparkChannel', () => {
  it('opens one comm to pyspark-kernel.v1 on a pyspark kernel', async () => {
    const kernel = new FakeKernel();
    const { channel } = connect(kernel);
    await flush();
    expect(kernel.comms).toHaveLength(1);
    expect(kernel.comm.targetName).toBe(CHANNEL_TARGET);
    expect(kernel.comm.opened).toEqual([{}]);
    // Not open until the kernel answers.
    expect(channel.isOpen).toBe(false);
    expect(channel.status).toBeNull();
  });

  it('takes the status push as the status, at once', async () => {
    const kernel = new FakeKernel();
    const { channel } = connect(kernel);
    await flush();
    const seen: (ISparkStatus | null)[] = [];
    channel.statusChanged.connect((_, status) => seen.push(status));
    const push = channelFixtures.statusPushStarting();
    kernel.comm.receive(push);
    expect(channel.isOpen).toBe(true);
    expect(seen).toEqual([push.status]);
    expect(channel.status!.state).toBe('starting');
    kernel.comm.receive(channelFixtures.statusReply());
    expect(channel.status!.state).toBe('ready');
    expect(seen).toHaveLength(2);
  });

  it('keeps the queries of a streams push by run id', async () => {
    const kernel = new FakeKernel();
    const channel = await opened(kernel);
    const push = channelFixtures.streamsPush();
    expect(Array.from(channel.streams.keys())).toEqual(
      push.queries.map(q => q.run_id)
    );
    expect(channel.stream(push.queries[0].run_id)!.state).toBe('active');
    expect(channel.stream(push.queries[1].run_id)!.state).toBe('stopped');
    expect(channel.stream('nope')).toBeUndefined();

    const emitted: number[] = [];
    channel.streamsChanged.connect((_, streams) => emitted.push(streams.size));
    kernel.comm.receive({ ...push, queries: [] });
    expect(emitted).toEqual([0]);
    expect(channel.streams.size).toBe(0);
  });

  it('sends requests with ids and resolves each with its reply', async () => {
    const kernel = new FakeKernel();
    const channel = await opened(kernel);
    const request = channelFixtures.stopStreamRequest();
    const first = channel.request('stop_stream', { query: request.query });
    const second = channel.request('status');
    const [stop, status] = kernel.comm.sent;
    expect(stop).toEqual({ ...request, id: stop.id });
    expect(status).toEqual({ op: 'status', id: status.id });
    expect(stop.id).not.toEqual(status.id);

    // Replies may come in any order.
    kernel.comm.receive(replyTo(status, channelFixtures.statusReply()));
    kernel.comm.receive(replyTo(stop, channelFixtures.stopStreamReply()));
    expect(await first).toEqual(
      replyTo(stop, channelFixtures.stopStreamReply())
    );
    expect((await second).ok).toBe(true);
  });

  it('gives an error reply as it is', async () => {
    const kernel = new FakeKernel();
    const channel = await opened(kernel);
    const reply = channel.request('stop_stream', { query: 'nope' });
    kernel.comm.receive(
      replyTo(kernel.comm.last, channelFixtures.stopStreamError())
    );
    expect(await reply).toMatchObject({
      ok: false,
      error: "no active streaming query 'nope'"
    });
    const unknown = channel.request('nope');
    kernel.comm.receive(
      replyTo(kernel.comm.last, channelFixtures.errorUnknownOp())
    );
    expect((await unknown).error).toMatch(/^unknown op 'nope'/);
  });

  it('answers a request the kernel does not answer with a timeout error', async () => {
    jest.useFakeTimers();
    const kernel = new FakeKernel();
    const { channel } = connect(kernel, 2000);
    await flush();
    answerOpen(
      kernel,
      channelFixtures.statusReply(),
      channelFixtures.streamsPush()
    );
    const reply = channel.request('status');
    jest.advanceTimersByTime(1999);
    await flush();
    let settled = false;
    void reply.then(() => (settled = true));
    await flush();
    expect(settled).toBe(false);
    jest.advanceTimersByTime(1);
    expect(await reply).toMatchObject({
      op: 'status',
      ok: false,
      error: 'no reply from the kernel in 2 s'
    });
    // A late reply is ignored.
    kernel.comm.receive(
      replyTo(kernel.comm.last, channelFixtures.statusReply())
    );
  });

  it('refuses requests while the channel is not open', async () => {
    const kernel = new FakeKernel();
    const { channel } = connect(kernel);
    await flush();
    expect(await channel.request('status')).toMatchObject({
      ok: false,
      error: 'the kernel channel is not open'
    });
    expect(kernel.comm.sent).toEqual([]);
  });

  it('ignores messages that are no channel messages', async () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => {});
    const kernel = new FakeKernel();
    const channel = await opened(kernel);
    for (const bad of [null, 'status', [1], { op: 'status' }, { ok: true }]) {
      expect(isChannelMessage(bad)).toBe(false);
      kernel.comm.receive(bad);
    }
    expect(warn).toHaveBeenCalledTimes(5);
    expect(channel.status!.state).toBe('ready');
    warn.mockRestore();
  });

  it('starts again after a kernel restart', async () => {
    const kernel = new FakeKernel();
    const channel = await opened(kernel);
    const pending = channel.request('status');
    const states: (string | null)[] = [];
    channel.statusChanged.connect((_, s) => states.push(s?.state ?? null));

    kernel.setStatus('restarting');
    expect(await pending).toMatchObject({
      ok: false,
      error: 'the kernel restarted'
    });
    expect(channel.isOpen).toBe(false);
    expect(channel.status).toBeNull();
    expect(channel.streams.size).toBe(0);
    expect(states).toEqual([null]);

    kernel.setStatus('starting');
    await flush();
    expect(kernel.comms).toHaveLength(1);
    kernel.setStatus('idle');
    await flush();
    expect(kernel.comms).toHaveLength(2);
    expect(kernel.comm.opened).toEqual([{}]);
    kernel.comm.receive(channelFixtures.statusPushStarting());
    expect(states).toEqual([null, 'starting']);
  });

  it('asks again for what it may have missed after a reconnect', async () => {
    const kernel = new FakeKernel();
    const channel = await opened(kernel);
    kernel.setConnection('connecting');
    kernel.setConnection('connected');
    expect(kernel.comms).toHaveLength(1);
    expect(kernel.comm.sent.map(m => m.op)).toEqual(['status', 'streams']);
    const status = channelFixtures.statusReply();
    status.status.state = 'dead';
    kernel.comm.receive(replyTo(kernel.comm.sent[0], status));
    expect(channel.status!.state).toBe('dead');
  });

  it('follows the notebook to another kernel', async () => {
    const first = new FakeKernel();
    const { channel, session } = connect(first);
    await flush();
    answerOpen(
      first,
      channelFixtures.statusReply(),
      channelFixtures.streamsPush()
    );
    const second = new FakeKernel();
    session.setKernel(second);
    expect(first.comm.closed).toBe(true);
    expect(channel.status).toBeNull();
    await flush();
    expect(second.comms).toHaveLength(1);
    session.setKernel(null);
    expect(second.comm.closed).toBe(true);
    expect(channel.isOpen).toBe(false);
  });

  it('opens on a plain Python kernel only when a display wants it', async () => {
    const kernel = new FakeKernel({
      name: 'python3',
      implementation: 'ipython'
    });
    const { channel } = connect(kernel);
    await flush();
    kernel.setStatus('busy');
    kernel.setStatus('idle');
    await flush();
    expect(kernel.comms).toHaveLength(0);
    channel.want();
    await flush();
    expect(kernel.comms).toHaveLength(1);
    kernel.comm.receive(channelFixtures.statusReply());
    expect(channel.isOpen).toBe(true);
  });

  it('asks a kernel that refused again only after it ran a cell', async () => {
    const kernel = new FakeKernel({
      name: 'python3',
      implementation: 'ipython'
    });
    const { channel } = connect(kernel);
    channel.want();
    await flush();
    // ipykernel closes a comm whose target is not registered.
    kernel.comm.closeFromKernel();
    channel.want();
    kernel.setStatus('busy');
    kernel.setStatus('idle');
    await flush();
    expect(kernel.comms).toHaveLength(1);
    // `%load_ext pyspark_kernel` runs; its displays want the channel.
    kernel.iopub('execute_input');
    channel.want();
    await flush();
    expect(kernel.comms).toHaveLength(2);
  });

  it('never opens on a kernel of another language', async () => {
    const kernel = new FakeKernel({
      name: 'ir',
      implementation: 'IRkernel',
      language: 'R'
    });
    const { channel } = connect(kernel);
    channel.want();
    await flush();
    expect(kernel.comms).toHaveLength(0);
  });

  it('opens through the kernel subshell once it is there', async () => {
    let started!: () => void;
    const kernel = new FakeKernel({
      subshell: new Promise<void>(resolve => (started = resolve))
    });
    connect(kernel);
    await flush();
    expect(kernel.comm.opened).toEqual([]);
    started();
    await flush();
    expect(kernel.comm.opened).toEqual([{}]);
  });

  it('drops a comm still waiting for its subshell when the kernel changes', async () => {
    let started!: () => void;
    const first = new FakeKernel({
      subshell: new Promise<void>(resolve => (started = resolve))
    });
    const { session } = connect(first);
    await flush();
    session.setKernel(new FakeKernel());
    started();
    await flush();
    expect(first.comm.opened).toEqual([]);
    expect(first.comm.isDisposed).toBe(true);
  });

  it('opens on the main shell when the subshell does not come', async () => {
    jest.useFakeTimers();
    const kernel = new FakeKernel({ subshell: new Promise<void>(() => {}) });
    connect(kernel);
    await flush();
    expect(kernel.comm.opened).toEqual([]);
    jest.advanceTimersByTime(SUBSHELL_WAIT_MS);
    await flush();
    expect(kernel.comm.opened).toEqual([{}]);
  });

  it('closes its comm and answers pending requests when disposed', async () => {
    const kernel = new FakeKernel();
    const channel = await opened(kernel);
    const pending = channel.request('streams');
    channel.dispose();
    expect(kernel.comm.closed).toBe(true);
    expect((await pending).ok).toBe(false);
    expect(channel.isDisposed).toBe(true);
    // A late message changes nothing.
    kernel.comm.receive(channelFixtures.statusPushStarting());
    expect(channel.status).toBeNull();
  });

  it('hands the parts of a chunked reply to their request, with buffers', async () => {
    jest.useFakeTimers();
    const kernel = new FakeKernel();
    const { channel } = connect(kernel, 60_000);
    await flush();
    answerOpen(
      kernel,
      channelFixtures.statusReply(),
      channelFixtures.streamsPush()
    );
    const parts: [number, number[]][] = [];
    const reply = channel.request(
      'export',
      { result_id: 'r1', format: 'csv' },
      {
        timeoutMs: 2000,
        onPart: (part, buffers) =>
          parts.push([part.chunk as number, buffers.map(b => b.byteLength)])
      }
    );
    const id = kernel.comm.last.id;
    const chunk = channelFixtures.exportChunk();
    // Each part starts the wait again.
    jest.advanceTimersByTime(1500);
    kernel.comm.receiveWith({ ...chunk, id }, [
      new DataView(new ArrayBuffer(3))
    ]);
    jest.advanceTimersByTime(1500);
    kernel.comm.receiveWith({ ...chunk, id, chunk: 1 }, [
      new Uint8Array(5) as any
    ]);
    jest.advanceTimersByTime(1500);
    // A part of another request is not this one's.
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => {});
    kernel.comm.receiveWith({ ...chunk, id: 'other' }, []);
    expect(warn).toHaveBeenCalledTimes(1);
    warn.mockRestore();
    kernel.comm.receive({ ...channelFixtures.exportReply(), id });
    expect(await reply).toMatchObject({ ok: true, file_name: 'sales.csv' });
    expect(parts).toEqual([
      [0, [3]],
      [1, [5]]
    ]);
  });

  it('keeps the catalog of the last push, until the channel closes', async () => {
    const kernel = new FakeKernel();
    const channel = await opened(kernel);
    const seen: unknown[] = [];
    channel.catalogChanged.connect((_, catalog) => seen.push(catalog));
    const push = { ...channelFixtures.catalogReply(), push: true };
    delete (push as any).id;
    kernel.comm.receive(push);
    expect(channel.catalog).toEqual(push.catalog);
    // A table's columns are no catalog.
    kernel.comm.receive({
      op: 'catalog',
      id: 'x',
      ok: true,
      table: 't',
      columns: []
    });
    expect(seen).toEqual([push.catalog]);
    kernel.setStatus('restarting');
    expect(channel.catalog).toBeNull();
    expect(seen).toEqual([push.catalog, null]);
  });
});
