import { SparkChannel } from '../channel';
import { readStream, RenderedStream, streamRendererFactory } from '../stream';
import { IStreamPayload, STREAM_MIME_TYPE } from '../types';
import {
  channelFixtures,
  disposeAll,
  fixtures,
  mimeModel,
  render,
  texts
} from './helpers';
import { answerOpen, FakeKernel, FakeSession, flush } from './kernel';

let channels: SparkChannel[] = [];

afterEach(() => {
  disposeAll();
  channels.forEach(c => c.dispose());
  channels = [];
});

function stopButton(widget: RenderedStream): HTMLButtonElement | null {
  return widget.node.querySelector('button.pysk-stop');
}

/**
 * A notebook's channel to a kernel whose streams push lists `queries`.
 */
async function notebook(
  queries: IStreamPayload[] = channelFixtures.streamsPush().queries
): Promise<{ kernel: FakeKernel; channel: SparkChannel }> {
  const kernel = new FakeKernel();
  const channel = new SparkChannel({
    sessionContext: new FakeSession(kernel).context,
    timeoutMs: () => 1000
  });
  channels.push(channel);
  await flush();
  answerOpen(kernel, channelFixtures.statusReply(), {
    ...channelFixtures.streamsPush(),
    queries
  });
  return { kernel, channel };
}

function pushStreams(kernel: FakeKernel, queries: IStreamPayload[]): void {
  kernel.comm.receive({ ...channelFixtures.streamsPush(), queries });
}

function definitions(widget: RenderedStream): { [label: string]: string } {
  const dts = texts(widget.node.querySelectorAll('.pysk-metrics dt'));
  const dds = texts(widget.node.querySelectorAll('.pysk-metrics dd'));
  return Object.fromEntries(dts.map((dt, i) => [dt, dds[i]]));
}

describe('stream renderer', () => {
  it('is a safe factory for the stream mime type', () => {
    expect(streamRendererFactory().safe).toBe(true);
    expect(streamRendererFactory().mimeTypes).toEqual([STREAM_MIME_TYPE]);
  });

  it('shows the live status of an active query', async () => {
    const widget = await render<RenderedStream>(
      streamRendererFactory(),
      fixtures.streamActive()
    );
    const node = widget.node;
    expect(node.dataset.state).toBe('active');
    expect(node.querySelector('.pysk-stream-name')!.textContent).toBe(
      'sales_by_window'
    );
    expect(node.querySelector('.pysk-stream-id')!.textContent).toBe('6f1c2b8e');
    const state = node.querySelector('.pysk-state')!;
    expect(state.textContent).toBe('active');
    expect(state.classList).toContain('pysk-state-active');
    expect(node.querySelector('.pysk-stream-message')!.textContent).toBe(
      'Waiting for data to arrive'
    );
    expect(definitions(widget)).toEqual({
      batch: '12',
      input: '48.5 rows/s',
      processed: '310.2 rows/s',
      'batch duration': '806 ms',
      watermark: '2024-03-01T12:00:10.000Z',
      'state rows': '42',
      sink: 'MemorySink'
    });
    const source = node.querySelector('.pysk-source')!;
    expect(source.querySelector('.pysk-source-description')!.textContent).toBe(
      'KafkaV2[Subscribe[sales_events]]'
    );
    expect(source.querySelector('.pysk-lag')!.textContent).toBe('lag 50');
    expect(node.querySelector('.pysk-error')).toBeNull();
  });

  it('draws a sparkline with one point per batch', async () => {
    const payload = fixtures.streamActive();
    const widget = await render<RenderedStream>(
      streamRendererFactory(),
      payload
    );
    const svg = widget.node.querySelector('svg.pysk-sparkline')!;
    expect(svg.namespaceURI).toBe('http://www.w3.org/2000/svg');
    const lines = svg.querySelectorAll('polyline');
    expect(lines).toHaveLength(2);
    for (const line of Array.from(lines)) {
      expect(line.namespaceURI).toBe('http://www.w3.org/2000/svg');
      const points = line.getAttribute('points')!.split(' ');
      expect(points).toHaveLength(payload.history.length);
      for (const point of points) {
        expect(point).toMatch(/^\d+(\.\d)?,\d+(\.\d)?$/);
      }
    }
    // The highest rate (processed 310.2) is at the top of the chart.
    const processed = svg.querySelector('polyline.pysk-spark-processed')!;
    const ys = processed
      .getAttribute('points')!
      .split(' ')
      .map(p => Number(p.split(',')[1]));
    expect(Math.min(...ys)).toBe(ys[2]);
  });

  it('shows the error of a failed query, with no Stop button', async () => {
    const payload = fixtures.streamFailed();
    const widget = await render<RenderedStream>(
      streamRendererFactory(),
      payload
    );
    const node = widget.node;
    expect(node.dataset.state).toBe('failed');
    expect(node.querySelector('.pysk-stream-name')!.textContent).toBe(
      'unnamed query'
    );
    expect(node.querySelector('.pysk-error')!.textContent).toBe(
      '[STREAM_FAILED] Query terminated with exception: division by zero'
    );
    expect(node.querySelector('.pysk-state-failed')).not.toBeNull();
    expect(node.querySelector('svg')).toBeNull();
    expect(definitions(widget)['state rows']).toBeUndefined();
    expect(stopButton(widget)).toBeNull();
  });

  it("links the run's page in the Spark UI", async () => {
    const widget = await render<RenderedStream>(
      streamRendererFactory(),
      fixtures.streamActive()
    );
    const ui = widget.node.querySelector(
      '.pysk-stream-head a.pysk-link'
    ) as HTMLAnchorElement;
    expect(ui.textContent).toBe('Spark UI');
    expect(ui.getAttribute('href')).toBe(
      'http://127.0.0.1:4040/StreamingQuery/statistics/?id=0b9e5c1a-3f2d-4e8b-a6c7-5d4e3f2a1b0c'
    );
    expect(ui.target).toBe('_blank');
    expect(ui.rel).toContain('noopener');
  });

  it('links the Spark UI through the Jupyter server, only there or http(s)', async () => {
    const page =
      '/user/alice/pyspark-kernel/sparkui/0b3c3a5e-8d1f-4c1e-9d55-2f7c6a1e9a10/StreamingQuery/statistics/?id=0b9e5c1a-3f2d-4e8b-a6c7-5d4e3f2a1b0c';
    const payload = fixtures.streamActive();
    payload.ui_url = page;
    let widget = await render<RenderedStream>(streamRendererFactory(), payload);
    expect(widget.node.querySelector('a.pysk-link')!.getAttribute('href')).toBe(
      page
    );
    payload.ui_url = 'javascript:alert(1)';
    widget = await render<RenderedStream>(streamRendererFactory(), payload);
    expect(widget.node.querySelector('a.pysk-link')!.hasAttribute('href')).toBe(
      false
    );
  });

  it('shows no Spark UI link without a UI (and for saved payloads of older kernels)', async () => {
    const payload: Partial<IStreamPayload> = fixtures.streamActive();
    delete payload.ui_url;
    const widget = await render<RenderedStream>(
      streamRendererFactory(),
      payload
    );
    expect(widget.node.querySelector('a.pysk-link')).toBeNull();
    expect(readStream(payload)!.ui_url).toBeNull();
  });

  it('shows an unknown Kafka lag as unknown', async () => {
    const payload = fixtures.streamActive();
    payload.sources[0].lag = null;
    const widget = await render<RenderedStream>(
      streamRendererFactory(),
      payload
    );
    expect(widget.node.querySelector('.pysk-lag')!.textContent).toBe(
      'lag unknown'
    );
  });

  it('shows a saved payload with no Stop button outside a notebook', async () => {
    const widget = await render<RenderedStream>(
      streamRendererFactory(),
      fixtures.streamActive(),
      { trusted: true }
    );
    expect(widget.node.dataset.state).toBe('active');
    expect(widget.node.dataset.source).toBe('saved');
    expect(stopButton(widget)).toBeNull();
  });

  it('keeps no code from the payload', () => {
    // Older kernels sent `stop_code`; it is dropped, never run nor shown.
    const payload = readStream(fixtures.streamActive())!;
    expect(Object.keys(payload)).not.toContain('stop_code');
    expect(readStream({ run_id: 'x' })).toBeNull();
  });
});

describe('stream renderer in a notebook', () => {
  it('offers Stop for a query the kernel runs, in a trusted output', async () => {
    const { channel } = await notebook();
    const widget = await render<RenderedStream>(
      streamRendererFactory({ channel }),
      fixtures.streamActive(),
      { trusted: true }
    );
    expect(widget.node.dataset.source).toBe('kernel');
    const button = stopButton(widget)!;
    expect(button.disabled).toBe(false);
    expect(button.textContent).toBe('Stop');
  });

  it('offers no action in an untrusted output', async () => {
    const { channel } = await notebook();
    const widget = await render<RenderedStream>(
      streamRendererFactory({ channel }),
      fixtures.streamActive(),
      { trusted: false }
    );
    expect(widget.node.dataset.source).toBe('kernel');
    expect(stopButton(widget)).toBeNull();
  });

  it('follows the streams pushes of its query run (after a reload too)', async () => {
    const { kernel, channel } = await notebook([]);
    // The saved display: batch 12. The kernel knows nothing of it yet.
    const saved = fixtures.streamActive();
    const widget = await render<RenderedStream>(
      streamRendererFactory({ channel }),
      saved,
      { trusted: true }
    );
    expect(widget.node.dataset.source).toBe('saved');
    expect(definitions(widget).batch).toBe('12');

    const live = channelFixtures.streamsPush().queries[0];
    expect(live.run_id).toBe(saved.run_id);
    live.batch_id = 20;
    live.history.push({
      batch_id: 20,
      input_rows_per_second: 75,
      processed_rows_per_second: 400
    });
    pushStreams(kernel, [live]);
    expect(widget.node.dataset.source).toBe('kernel');
    expect(definitions(widget).batch).toBe('20');
    expect(
      widget.node
        .querySelector('polyline.pysk-spark-input')!
        .getAttribute('points')!
        .split(' ')
    ).toHaveLength(4);

    pushStreams(kernel, [{ ...live, state: 'stopped', message: 'Stopped' }]);
    expect(widget.node.dataset.state).toBe('stopped');
    expect(widget.node.querySelector('.pysk-state')!.textContent).toBe(
      'stopped'
    );
    expect(stopButton(widget)!.disabled).toBe(true);
  });

  it('stops its query over the channel and then says stopped', async () => {
    const { kernel, channel } = await notebook();
    const payload = fixtures.streamActive();
    const widget = await render<RenderedStream>(
      streamRendererFactory({ channel }),
      payload,
      { trusted: true }
    );
    stopButton(widget)!.click();
    const request = kernel.comm.last;
    expect(request).toEqual({
      ...channelFixtures.stopStreamRequest(),
      id: request.id
    });
    expect(request.query).toBe(payload.id);
    expect(stopButton(widget)!.disabled).toBe(true);
    expect(stopButton(widget)!.textContent).toBe('Stopping\u2026');
    stopButton(widget)!.click();
    expect(kernel.comm.sent).toHaveLength(1);

    kernel.comm.receive({
      ...channelFixtures.stopStreamReply(),
      id: request.id
    });
    await flush();
    // The reply is enough; the push says the same.
    expect(widget.node.dataset.state).toBe('stopped');
    expect(stopButton(widget)!.disabled).toBe(true);
    expect(widget.node.querySelector('.pysk-stop-error')).toBeNull();
  });

  it('shows a failed stop in one line and lets the user try again', async () => {
    const { kernel, channel } = await notebook();
    const widget = await render<RenderedStream>(
      streamRendererFactory({ channel }),
      fixtures.streamActive(),
      { trusted: true }
    );
    stopButton(widget)!.click();
    kernel.comm.receive({
      ...channelFixtures.stopStreamError(),
      error: "no active streaming query 'nope'\nsecond line",
      id: kernel.comm.last.id
    });
    await flush();
    const error = widget.node.querySelector('.pysk-stop-error')!;
    expect(error.textContent).toBe(
      "Stop failed: no active streaming query 'nope'"
    );
    expect(widget.node.dataset.state).toBe('active');
    expect(stopButton(widget)!.disabled).toBe(false);
  });

  it('says when the kernel does not run the saved query', async () => {
    const { channel } = await notebook([]);
    const widget = await render<RenderedStream>(
      streamRendererFactory({ channel }),
      fixtures.streamActive(),
      { trusted: true }
    );
    expect(widget.node.querySelector('.pysk-stream-note')!.textContent).toBe(
      'not running in this kernel: shown as saved'
    );
    expect(stopButton(widget)!.disabled).toBe(true);
  });

  it('shows the payload as saved once the kernel restarted', async () => {
    const { kernel, channel } = await notebook();
    const widget = await render<RenderedStream>(
      streamRendererFactory({ channel }),
      fixtures.streamActive(),
      { trusted: true }
    );
    kernel.setStatus('restarting');
    expect(widget.node.dataset.source).toBe('saved');
    expect(stopButton(widget)).toBeNull();
    widget.dispose();
    // A disposed display no longer listens.
    kernel.setStatus('idle');
    await flush();
    expect(() => pushStreams(kernel, [])).not.toThrow();
  });

  it('renders display updates of a query the kernel does not list', async () => {
    const { channel } = await notebook([]);
    const widget = await render<RenderedStream>(
      streamRendererFactory({ channel }),
      fixtures.streamActive(),
      { trusted: true }
    );
    const update = fixtures.streamActive();
    update.batch_id = 13;
    await widget.renderModel(mimeModel(STREAM_MIME_TYPE, update, true));
    expect(definitions(widget).batch).toBe('13');
  });
});
