import type { NotebookPanel } from '@jupyterlab/notebook';

import { handleStopStream, listenForStopRequests } from '../stop';
import { RenderedStream, streamRendererFactory } from '../stream';
import { STOP_STREAM_EVENT } from '../types';
import { disposeAll, fixtures, render } from './helpers';

afterEach(disposeAll);

function fakePanel() {
  const node = document.createElement('div');
  document.body.appendChild(node);
  const done = Promise.resolve({ content: { status: 'ok' } });
  const requestExecute = jest.fn(() => ({ done }));
  const panel = {
    node,
    sessionContext: { session: { kernel: { requestExecute } } }
  } as unknown as NotebookPanel;
  const tracker = {
    find: (fn: (panel: NotebookPanel) => boolean) =>
      fn(panel) ? panel : undefined
  };
  return { node, panel, tracker, requestExecute };
}

function stopEvent(code: string): CustomEvent {
  return new CustomEvent(STOP_STREAM_EVENT, {
    bubbles: true,
    cancelable: true,
    detail: { code, id: 'x' }
  });
}

describe('stop requests', () => {
  it('run the stop code silently on the kernel of the notebook holding the output', async () => {
    const { node, tracker, requestExecute } = fakePanel();
    const remove = listenForStopRequests(tracker, document);
    try {
      const payload = fixtures.streamActive();
      const widget = await render<RenderedStream>(
        streamRendererFactory,
        payload,
        node
      );
      (widget.node.querySelector('button.pysk-stop') as HTMLElement).click();
      expect(requestExecute).toHaveBeenCalledTimes(1);
      expect(requestExecute).toHaveBeenCalledWith({
        code: payload.stop_code,
        silent: true,
        store_history: false,
        allow_stdin: false,
        stop_on_error: false
      });
      const button = widget.node.querySelector(
        'button.pysk-stop'
      ) as HTMLButtonElement;
      expect(button.disabled).toBe(true);
      expect(
        (widget.node.querySelector('.pysk-stop-hint') as HTMLElement).hidden
      ).toBe(true);
    } finally {
      remove();
    }
  });

  it('ignore events outside any notebook', () => {
    const { tracker, requestExecute } = fakePanel();
    const outside = document.createElement('div');
    document.body.appendChild(outside);
    const event = stopEvent('%streams stop abc');
    outside.addEventListener(STOP_STREAM_EVENT, e =>
      expect(handleStopStream(tracker, e)).toBe(false)
    );
    outside.dispatchEvent(event);
    expect(event.defaultPrevented).toBe(false);
    expect(requestExecute).not.toHaveBeenCalled();
  });

  it('refuse any code but %streams stop <id>', () => {
    const { node, tracker, requestExecute } = fakePanel();
    const inner = document.createElement('span');
    node.appendChild(inner);
    const results: boolean[] = [];
    inner.addEventListener(STOP_STREAM_EVENT, e =>
      results.push(handleStopStream(tracker, e))
    );
    inner.dispatchEvent(stopEvent('%streams stop abc; import os'));
    inner.dispatchEvent(stopEvent('%streams stop abc\nimport os'));
    inner.dispatchEvent(stopEvent('%streams stop 6f1c2b8e-0d7a'));
    expect(results).toEqual([false, false, true]);
    expect(requestExecute).toHaveBeenCalledTimes(1);
  });
});
