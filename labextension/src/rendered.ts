/**
 * The base class of the renderers: reads the payload of its mime type,
 * empties the node, honours the model's trust and calls `render()`.
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';

import type { SparkChannel } from './channel';
import { el } from './dom';
import { DEFAULT_SETTINGS, ILabSettings, LabSettings } from './settings';

/**
 * The part of a rendermime registry a renderer uses to show another mime
 * type (a chart through JupyterLab's Vega-Lite renderer).
 */
export interface IRendererRegistry {
  getFactory(mimeType: string): IRenderMime.IRendererFactory | undefined;
  createRenderer(mimeType: string): IRenderMime.IRenderer;
}

/**
 * What a renderer gets besides JupyterLab's renderer options.
 */
export interface IRendererContext {
  /**
   * The kernel channel of the notebook holding the output; `null` outside a
   * notebook, where a renderer shows the payload as it was saved.
   */
  channel?: SparkChannel | null;
  settings?: LabSettings | null;
  /**
   * The rendermime registry of the notebook (or of the application), for
   * the mime types other renderers show.
   */
  rendermime?: IRendererRegistry | null;
}

/**
 * A renderer of one pyspark-kernel payload type `T`.
 */
export abstract class RenderedPayload<T>
  extends Widget
  implements IRenderMime.IRenderer
{
  /**
   * @param className - the widget's CSS class, e.g. `pysk-Table`.
   * @param noun - what the payload is, for the message of an unreadable one.
   */
  constructor(
    options: IRenderMime.IRendererOptions,
    context: IRendererContext,
    className: string,
    noun: string
  ) {
    super();
    this.mimeType = options.mimeType;
    this.channel = context.channel ?? null;
    this.rendermime = context.rendermime ?? null;
    this._settings = context.settings ?? null;
    this._noun = noun;
    this.addClass(className);
    this.node.dataset.mimeType = this.mimeType;
  }

  /**
   * The mime type rendered.
   */
  readonly mimeType: string;

  /**
   * The channel of the notebook, if any.
   */
  readonly channel: SparkChannel | null;

  /**
   * The registry to render other mime types with, if any.
   */
  readonly rendermime: IRendererRegistry | null;

  /**
   * The user's settings now.
   */
  get settings(): Readonly<ILabSettings> {
    return this._settings?.current ?? DEFAULT_SETTINGS;
  }

  /**
   * Whether the output is trusted: only trusted outputs offer actions that
   * reach the kernel.
   */
  get trusted(): boolean {
    return this._trusted;
  }

  /**
   * The payload last rendered; `null` if it could not be read.
   */
  get payload(): T | null {
    return this._payload;
  }

  /**
   * Render a model; called again on each `update_display_data`.
   */
  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    this._trusted = !!model.trusted;
    this.toggleClass('jp-mod-trusted', this._trusted);
    this._payload = this.parse(model.data[this.mimeType]);
    if (this._payload !== null) {
      // A display of ours: the kernel may speak the channel.
      this.channel?.want();
    }
    this.redraw();
  }

  /**
   * Render the current payload again, from an empty node.
   */
  protected redraw(): void {
    const node = this.node;
    node.textContent = '';
    if (this._payload === null) {
      for (const key of Object.keys(node.dataset)) {
        if (key !== 'mimeType') {
          delete node.dataset[key];
        }
      }
      node.appendChild(
        el(
          'div',
          'pysk-error',
          `pyspark-kernel: this ${this._noun} payload cannot be read`
        )
      );
      return;
    }
    this.render(this._payload);
  }

  /**
   * The payload from the model's data, `null` if it is unreadable.
   */
  protected abstract parse(data: unknown): T | null;

  /**
   * Fill the (empty) node from a payload.
   */
  protected abstract render(payload: T): void;

  private _settings: LabSettings | null;
  private _noun: string;
  private _trusted = false;
  private _payload: T | null = null;
}
