import type { DocumentRegistry } from '@jupyterlab/docregistry';
import type { INotebookModel, NotebookPanel } from '@jupyterlab/notebook';
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';

import { RENDERER_RANK } from '../mime';
import { NotebookChannels } from '../notebooks';
import { LabSettings } from '../settings';
import { RenderedStream } from '../stream';
import { RenderedTable } from '../table';
import { STREAM_MIME_TYPE, TABLE_MIME_TYPE } from '../types';
import { channelFixtures, fixtures, mimeModel } from './helpers';
import { FakeKernel, FakeSession, flush } from './kernel';

/**
 * The part of a rendermime registry the extension uses.
 */
class Registry {
  factories = new Map<string, IRenderMime.IRendererFactory>();
  ranks = new Map<string, number>();

  addFactory(factory: IRenderMime.IRendererFactory, rank: number): void {
    for (const mimeType of factory.mimeTypes) {
      this.factories.set(mimeType, factory);
      this.ranks.set(mimeType, rank);
    }
  }

  removeMimeType(mimeType: string): void {
    this.factories.delete(mimeType);
  }

  createRenderer(mimeType: string): IRenderMime.IRenderer {
    return this.factories
      .get(mimeType)!
      .createRenderer({ mimeType } as IRenderMime.IRendererOptions);
  }
}

function notebook(kernel: FakeKernel) {
  const sessionContext = new FakeSession(kernel).context;
  const context = {
    sessionContext
  } as unknown as DocumentRegistry.IContext<INotebookModel>;
  const view = (rendermime: Registry) =>
    ({ sessionContext, content: { rendermime } }) as unknown as NotebookPanel;
  return { context, view };
}

describe('NotebookChannels', () => {
  it('gives a notebook renderers that know its channel, until it closes', async () => {
    const settings = new LabSettings();
    settings.update({ pageSize: 7 });
    const channels = new NotebookChannels(settings);
    const kernel = new FakeKernel();
    const { context, view } = notebook(kernel);
    const rendermime = new Registry();
    const panel = view(rendermime);
    const disposable = channels.createNew(panel, context);

    expect(Array.from(rendermime.ranks.values())).toEqual([
      RENDERER_RANK,
      RENDERER_RANK,
      RENDERER_RANK
    ]);
    const channel = channels.channelOf(panel)!;
    await flush();
    kernel.comm.receive(channelFixtures.statusReply());
    kernel.comm.receive(channelFixtures.streamsPush());
    expect(channel.isOpen).toBe(true);

    const stream = rendermime.createRenderer(
      STREAM_MIME_TYPE
    ) as RenderedStream;
    expect(stream.channel).toBe(channel);
    await stream.renderModel(
      mimeModel(STREAM_MIME_TYPE, fixtures.streamActive(), true)
    );
    expect(stream.node.querySelector('button.pysk-stop')).not.toBeNull();
    const table = rendermime.createRenderer(TABLE_MIME_TYPE) as RenderedTable;
    expect(table.settings.pageSize).toBe(7);

    disposable.dispose();
    expect(rendermime.factories.size).toBe(0);
    expect(channel.isDisposed).toBe(true);
    expect(kernel.comm.closed).toBe(true);
    expect(channels.channelOf(panel)).toBeUndefined();
    stream.dispose();
    table.dispose();
  });

  it('shares one channel between the views of a notebook', async () => {
    const channels = new NotebookChannels(new LabSettings());
    const kernel = new FakeKernel();
    const { context, view } = notebook(kernel);
    // A second view shares the first one's rendermime registry.
    const rendermime = new Registry();
    const first = view(rendermime);
    const second = view(rendermime);
    const one = channels.createNew(first, context);
    const two = channels.createNew(second, context);
    await flush();
    expect(kernel.comms).toHaveLength(1);
    expect(channels.channelOf(second)).toBe(channels.channelOf(first));

    one.dispose();
    expect(rendermime.factories.size).toBe(3);
    expect(channels.channelOf(second)!.isDisposed).toBe(false);
    two.dispose();
    expect(rendermime.factories.size).toBe(0);
    expect(kernel.comm.closed).toBe(true);
  });
});
