import { RenderedStream, streamRendererFactory } from '../stream';
import {
  IStopStreamDetail,
  STOP_STREAM_EVENT,
  STREAM_MIME_TYPE
} from '../types';
import { disposeAll, fixtures, mimeModel, render, texts } from './helpers';

afterEach(disposeAll);

function stopButton(widget: RenderedStream): HTMLButtonElement {
  return widget.node.querySelector('button.pysk-stop') as HTMLButtonElement;
}

function definitions(widget: RenderedStream): { [label: string]: string } {
  const dts = texts(widget.node.querySelectorAll('.pysk-metrics dt'));
  const dds = texts(widget.node.querySelectorAll('.pysk-metrics dd'));
  return Object.fromEntries(dts.map((dt, i) => [dt, dds[i]]));
}

describe('stream renderer', () => {
  it('is a safe factory for the stream mime type', () => {
    expect(streamRendererFactory.safe).toBe(true);
    expect(streamRendererFactory.mimeTypes).toEqual([STREAM_MIME_TYPE]);
  });

  it('shows the live status of an active query', async () => {
    const widget = await render<RenderedStream>(
      streamRendererFactory,
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
    const widget = await render<RenderedStream>(streamRendererFactory, payload);
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

  it('dispatches a bubbling stop event with the stop code, once', async () => {
    const payload = fixtures.streamActive();
    const widget = await render<RenderedStream>(streamRendererFactory, payload);
    const seen: IStopStreamDetail[] = [];
    const listener = (event: Event) => {
      seen.push((event as CustomEvent<IStopStreamDetail>).detail);
      event.preventDefault();
    };
    document.addEventListener(STOP_STREAM_EVENT, listener);
    try {
      const button = stopButton(widget);
      expect(button.disabled).toBe(false);
      expect(button.textContent).toBe('Stop');
      button.click();
      expect(seen).toEqual([{ code: payload.stop_code, id: payload.id }]);
      expect(seen[0].code).toBe(
        '%streams stop 6f1c2b8e-0d7a-4c39-9d51-2a1e7b3f9c10'
      );
      expect(button.disabled).toBe(true);
      expect(button.textContent).toBe('Stopping\u2026');
      button.click();
      expect(seen).toHaveLength(1);

      // An update of the same query keeps the request in mind...
      await widget.renderModel(mimeModel(STREAM_MIME_TYPE, payload));
      expect(stopButton(widget).disabled).toBe(true);
      // ...and the final state disables the button for good.
      payload.state = 'stopped';
      await widget.renderModel(mimeModel(STREAM_MIME_TYPE, payload));
      expect(stopButton(widget).disabled).toBe(true);
      expect(stopButton(widget).textContent).toBe('Stop');
    } finally {
      document.removeEventListener(STOP_STREAM_EVENT, listener);
    }
  });

  it('says how to stop by hand when no kernel takes the request', async () => {
    const payload = fixtures.streamActive();
    const widget = await render<RenderedStream>(streamRendererFactory, payload);
    stopButton(widget).click();
    const hint = widget.node.querySelector('.pysk-stop-hint') as HTMLElement;
    expect(hint.hidden).toBe(false);
    expect(hint.textContent).toContain(payload.stop_code);
    expect(stopButton(widget).disabled).toBe(false);
  });

  it('shows the error of a failed query, with Stop disabled', async () => {
    const payload = fixtures.streamFailed();
    const widget = await render<RenderedStream>(streamRendererFactory, payload);
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
    expect(stopButton(widget).disabled).toBe(true);
    const listener = jest.fn();
    document.addEventListener(STOP_STREAM_EVENT, listener);
    stopButton(widget).click();
    document.removeEventListener(STOP_STREAM_EVENT, listener);
    expect(listener).not.toHaveBeenCalled();
  });

  it('runs no stop code other than %streams stop <id>', async () => {
    const payload = fixtures.streamActive();
    payload.stop_code = "import os; os.system('rm -rf ~')";
    const widget = await render<RenderedStream>(streamRendererFactory, payload);
    expect(stopButton(widget).disabled).toBe(true);
  });

  it('shows an unknown Kafka lag as unknown', async () => {
    const payload = fixtures.streamActive();
    payload.sources[0].lag = null;
    const widget = await render<RenderedStream>(streamRendererFactory, payload);
    expect(widget.node.querySelector('.pysk-lag')!.textContent).toBe(
      'lag unknown'
    );
  });
});
