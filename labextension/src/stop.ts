/**
 * Route a stream display's Stop request to the kernel of the notebook the
 * display lives in.
 */
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';

import { isSafeStopCode } from './stream';
import { IStopStreamDetail, STOP_STREAM_EVENT } from './types';

/**
 * The notebook panel whose DOM holds `target`, if any.
 */
export function panelOf(
  tracker: Pick<INotebookTracker, 'find'>,
  target: EventTarget | null
): NotebookPanel | undefined {
  if (!(target instanceof Node)) {
    return undefined;
  }
  return tracker.find(panel => panel.node.contains(target));
}

/**
 * Handle one `pysk-stop-stream` event: run its code silently on the kernel
 * of the notebook containing the event target, then mark the event handled
 * (`preventDefault`) so the display knows the request went out.
 *
 * @returns whether the code was sent.
 */
export function handleStopStream(
  tracker: Pick<INotebookTracker, 'find'>,
  event: Event
): boolean {
  const detail = (event as CustomEvent<IStopStreamDetail>).detail;
  if (!detail || !isSafeStopCode(detail.code)) {
    return false;
  }
  const panel = panelOf(tracker, event.target);
  const kernel = panel?.sessionContext.session?.kernel;
  if (!kernel) {
    return false;
  }
  const future = kernel.requestExecute({
    code: detail.code,
    silent: true,
    store_history: false,
    allow_stdin: false,
    stop_on_error: false
  });
  future.done.catch(reason => {
    console.warn('pyspark-kernel-lab: stopping a stream failed', reason);
  });
  event.preventDefault();
  return true;
}

/**
 * Listen for stop requests under `root` (the document by default).
 *
 * @returns a function that removes the listener.
 */
export function listenForStopRequests(
  tracker: Pick<INotebookTracker, 'find'>,
  root: EventTarget = document
): () => void {
  const listener = (event: Event) => {
    handleStopStream(tracker, event);
  };
  root.addEventListener(STOP_STREAM_EVENT, listener);
  return () => root.removeEventListener(STOP_STREAM_EVENT, listener);
}
