/**
 * The channel of each notebook panel, and renderers that use it.
 */
import type { DocumentRegistry } from '@jupyterlab/docregistry';
import type { INotebookModel, NotebookPanel } from '@jupyterlab/notebook';
import { DisposableDelegate, IDisposable } from '@lumino/disposable';

import { SparkChannel } from './channel';
import { RENDERER_RANK, rendererFactories } from './mime';
import type { LabSettings } from './settings';

/**
 * Gives each notebook a `SparkChannel`, and each notebook panel renderers
 * that use it, in the panel's rendermime registry. Views of one notebook
 * ("New View for Notebook") share its session, rendermime registry and
 * channel; the channel and the renderers go when the last view closes.
 */
export class NotebookChannels implements DocumentRegistry.IWidgetExtension<
  NotebookPanel,
  INotebookModel
> {
  constructor(settings: LabSettings) {
    this._settings = settings;
  }

  createNew(
    panel: NotebookPanel,
    context: DocumentRegistry.IContext<INotebookModel>
  ): IDisposable {
    let shared = this._shared.get(context);
    if (!shared) {
      const settings = this._settings;
      const channel = new SparkChannel({
        sessionContext: context.sessionContext,
        timeoutMs: () => settings.current.requestTimeoutMs
      });
      const rendermime = panel.content.rendermime;
      const factories = rendererFactories({ channel, settings, rendermime });
      for (const factory of factories) {
        rendermime.addFactory(factory, RENDERER_RANK);
      }
      const dispose = () => {
        for (const factory of factories) {
          for (const mimeType of factory.mimeTypes) {
            rendermime.removeMimeType(mimeType);
          }
        }
        channel.dispose();
      };
      shared = { channel, views: 0, dispose };
      this._shared.set(context, shared);
    }
    const entry = shared;
    entry.views += 1;
    this._channels.set(panel, entry.channel);
    return new DisposableDelegate(() => {
      this._channels.delete(panel);
      entry.views -= 1;
      if (entry.views === 0) {
        this._shared.delete(context);
        entry.dispose();
      }
    });
  }

  /**
   * The channel of a notebook panel.
   */
  channelOf(panel: NotebookPanel): SparkChannel | undefined {
    return this._channels.get(panel);
  }

  private _settings: LabSettings;
  private _channels = new WeakMap<NotebookPanel, SparkChannel>();
  private _shared = new Map<
    DocumentRegistry.IContext<INotebookModel>,
    { channel: SparkChannel; views: number; dispose: () => void }
  >();
}
