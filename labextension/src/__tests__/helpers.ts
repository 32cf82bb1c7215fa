/**
 * Test helpers: mime models and channel messages from the shared fixtures,
 * renderers attached to the document.
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';

import catalogReply from '../../../tests/fixtures/channel/catalog_reply.json';
import chartReply from '../../../tests/fixtures/channel/chart_reply.json';
import errorUnknownOp from '../../../tests/fixtures/channel/error_unknown_op.json';
import exportChunk from '../../../tests/fixtures/channel/export_chunk.json';
import exportReply from '../../../tests/fixtures/channel/export_reply.json';
import pageReply from '../../../tests/fixtures/channel/page_reply.json';
import pageRequest from '../../../tests/fixtures/channel/page_request.json';
import previewReply from '../../../tests/fixtures/channel/preview_reply.json';
import profileReply from '../../../tests/fixtures/channel/profile_reply.json';
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
  IChartReply,
  IExportChunk,
  IExportReply,
  IPageReply,
  IPreviewReply,
  IProfileReply,
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
  chartReply: () => clone<IChartReply>(chartReply),
  errorUnknownOp: () => clone<IChannelMessage>(errorUnknownOp),
  exportChunk: () => clone<IExportChunk>(exportChunk),
  exportReply: () => clone<IExportReply>(exportReply),
  pageReply: () => clone<IPageReply>(pageReply),
  pageRequest: () => clone<IChannelRequest>(pageRequest),
  previewReply: () => clone<IPreviewReply>(previewReply),
  profileReply: () => clone<IProfileReply>(profileReply),
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

/**
 * A mime model that keeps what `setData` sets, as an output model does, and
 * calls `onSet` afterwards (JupyterLab renders the output again then).
 */
export class SavingModel implements IRenderMime.IMimeModel {
  constructor(
    mimeType: string,
    payload: unknown,
    readonly trusted = false,
    metadata: { [key: string]: any } = {}
  ) {
    this.data = { [mimeType]: payload as any };
    this.metadata = metadata;
  }

  data: { [key: string]: any };
  metadata: { [key: string]: any };
  saved: IRenderMime.IMimeModel.ISetDataOptions[] = [];
  onSet: (() => void) | null = null;

  setData(options: IRenderMime.IMimeModel.ISetDataOptions): void {
    this.saved.push(JSON.parse(JSON.stringify(options)));
    if (options.data) {
      this.data = { ...options.data };
    }
    if (options.metadata) {
      this.metadata = JSON.parse(JSON.stringify(options.metadata));
    }
    this.onSet?.();
  }
}

/**
 * Attach a renderer made by `factory` and render `model` with it.
 */
export async function renderWith<T extends IRenderMime.IRenderer>(
  factory: IRenderMime.IRendererFactory,
  model: IRenderMime.IMimeModel
): Promise<T> {
  const renderer = factory.createRenderer({
    mimeType: factory.mimeTypes[0]
  } as IRenderMime.IRendererOptions) as T;
  Widget.attach(renderer, document.body);
  attached.push(renderer);
  await renderer.renderModel(model);
  return renderer;
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
