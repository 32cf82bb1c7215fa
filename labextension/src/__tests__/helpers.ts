/**
 * Test helpers: mime models and channel messages from the shared fixtures,
 * renderers attached to the document.
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';

import catalogReply from '../../../tests/fixtures/channel/catalog_reply.json';
import errorUnknownOp from '../../../tests/fixtures/channel/error_unknown_op.json';
import statusPushStarting from '../../../tests/fixtures/channel/status_push_starting.json';
import statusReply from '../../../tests/fixtures/channel/status_reply.json';
import stopStreamError from '../../../tests/fixtures/channel/stop_stream_error.json';
import stopStreamReply from '../../../tests/fixtures/channel/stop_stream_reply.json';
import stopStreamRequest from '../../../tests/fixtures/channel/stop_stream_request.json';
import streamsPush from '../../../tests/fixtures/channel/streams_push.json';
import progressDone from '../../../tests/fixtures/mime/progress_done.json';
import progressRunning from '../../../tests/fixtures/mime/progress_running.json';
import streamActive from '../../../tests/fixtures/mime/stream_active.json';
import streamFailed from '../../../tests/fixtures/mime/stream_failed.json';
import tableBasic from '../../../tests/fixtures/mime/table_basic.json';
import tableNested from '../../../tests/fixtures/mime/table_nested.json';
import tableStreaming from '../../../tests/fixtures/mime/table_streaming.json';
import type {
  ICatalogMessage,
  IChannelMessage,
  IChannelRequest,
  IProgressPayload,
  IStatusMessage,
  IStopStreamReply,
  IStreamPayload,
  IStreamsMessage,
  ITablePayload
} from '../types';

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

/**
 * Fresh copies of the fixtures in tests/fixtures/channel, typed.
 */
export const channelFixtures = {
  catalogReply: () => clone<ICatalogMessage>(catalogReply),
  errorUnknownOp: () => clone<IChannelMessage>(errorUnknownOp),
  statusPushStarting: () => clone<IStatusMessage>(statusPushStarting),
  statusReply: () => clone<IStatusMessage>(statusReply),
  stopStreamError: () => clone<IStopStreamReply>(stopStreamError),
  stopStreamReply: () => clone<IStopStreamReply>(stopStreamReply),
  stopStreamRequest: () => clone<IChannelRequest>(stopStreamRequest),
  streamsPush: () => clone<IStreamsMessage>(streamsPush)
};

function clone<T>(value: unknown): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/**
 * A minimal IMimeModel holding one payload.
 */
export function mimeModel(
  mimeType: string,
  payload: unknown,
  trusted = false
): IRenderMime.IMimeModel {
  return {
    trusted,
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
  { trusted = false, host = document.body } = {}
): Promise<T> {
  const mimeType = factory.mimeTypes[0];
  const renderer = factory.createRenderer({
    mimeType
  } as IRenderMime.IRendererOptions) as T;
  Widget.attach(renderer, host);
  attached.push(renderer);
  await renderer.renderModel(mimeModel(mimeType, payload, trusted));
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
