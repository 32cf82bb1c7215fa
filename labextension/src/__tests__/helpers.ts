/**
 * Test helpers: mime models from the shared fixtures, renderers attached to
 * the document.
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';

import progressDone from '../../../tests/fixtures/mime/progress_done.json';
import progressRunning from '../../../tests/fixtures/mime/progress_running.json';
import streamActive from '../../../tests/fixtures/mime/stream_active.json';
import streamFailed from '../../../tests/fixtures/mime/stream_failed.json';
import tableBasic from '../../../tests/fixtures/mime/table_basic.json';
import tableNested from '../../../tests/fixtures/mime/table_nested.json';
import tableStreaming from '../../../tests/fixtures/mime/table_streaming.json';
import type { IProgressPayload, IStreamPayload, ITablePayload } from '../types';

/**
 * Fresh copies of the fixtures in tests/fixtures/mime, typed.
 */
export const fixtures = {
  tableBasic: () => clone<ITablePayload>(tableBasic),
  tableNested: () => clone<ITablePayload>(tableNested),
  tableStreaming: () => clone<ITablePayload>(tableStreaming),
  progressRunning: () => clone<IProgressPayload>(progressRunning),
  progressDone: () => clone<IProgressPayload>(progressDone),
  streamActive: () => clone<IStreamPayload>(streamActive),
  streamFailed: () => clone<IStreamPayload>(streamFailed)
};

function clone<T>(value: unknown): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/**
 * A minimal IMimeModel holding one payload.
 */
export function mimeModel(
  mimeType: string,
  payload: unknown
): IRenderMime.IMimeModel {
  return {
    trusted: false,
    data: { [mimeType]: payload as any },
    metadata: {},
    setData: () => undefined
  };
}

const attached: Widget[] = [];

/**
 * Create a renderer from its factory, attach it to the document and render
 * the payload.
 */
export async function render<T extends IRenderMime.IRenderer>(
  factory: IRenderMime.IRendererFactory,
  payload: unknown,
  host: HTMLElement = document.body
): Promise<T> {
  const mimeType = factory.mimeTypes[0];
  const renderer = factory.createRenderer({
    mimeType
  } as IRenderMime.IRendererOptions) as T;
  Widget.attach(renderer, host);
  attached.push(renderer);
  await renderer.renderModel(mimeModel(mimeType, payload));
  return renderer;
}

/**
 * Dispose of every renderer `render` made.
 */
export function disposeAll(): void {
  while (attached.length) {
    const widget = attached.pop()!;
    if (widget.isAttached) {
      Widget.detach(widget);
    }
    widget.dispose();
  }
  document.body.textContent = '';
}

/**
 * The texts of a list of nodes.
 */
export function texts(nodes: Iterable<Element>): string[] {
  return Array.from(nodes, n => n.textContent ?? '');
}
