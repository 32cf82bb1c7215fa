/**
 * User settings of the extension (JupyterLab's settings registry; the schema
 * is `schema/plugin.json`).
 */
import { ISignal, Signal } from '@lumino/signaling';

/**
 * The settings, read and checked.
 */
export interface ILabSettings {
  /** Rows of a DataFrame preview shown per page. */
  pageSize: number;
  /** Milliseconds to wait for the kernel to answer a channel request. */
  requestTimeoutMs: number;
  /** Whether the status bar shows the Spark session of the notebook. */
  statusBar: boolean;
}

/**
 * The defaults; `schema/plugin.json` states the same values.
 */
export const DEFAULT_SETTINGS: Readonly<ILabSettings> = {
  pageSize: 50,
  requestTimeoutMs: 30_000,
  statusBar: true
};

/**
 * Read composite settings (`pageSize`, `requestTimeout` in seconds,
 * `statusBar`); a missing or out-of-range value falls back to its default.
 */
export function readSettings(composite: unknown): ILabSettings {
  const c = (composite && typeof composite === 'object' ? composite : {}) as {
    [key: string]: unknown;
  };
  const int = (value: unknown, min: number, max: number) =>
    typeof value === 'number' &&
    Number.isInteger(value) &&
    value >= min &&
    value <= max
      ? value
      : null;
  const timeout =
    typeof c.requestTimeout === 'number' &&
    c.requestTimeout >= 1 &&
    c.requestTimeout <= 600
      ? Math.round(c.requestTimeout * 1000)
      : null;
  return {
    pageSize: int(c.pageSize, 1, 10_000) ?? DEFAULT_SETTINGS.pageSize,
    requestTimeoutMs: timeout ?? DEFAULT_SETTINGS.requestTimeoutMs,
    statusBar:
      typeof c.statusBar === 'boolean'
        ? c.statusBar
        : DEFAULT_SETTINGS.statusBar
  };
}

/**
 * The current settings, updated when the user changes them.
 */
export class LabSettings {
  /**
   * The values now (the defaults until the registry has answered).
   */
  get current(): Readonly<ILabSettings> {
    return this._current;
  }

  /**
   * Emitted after the values changed.
   */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /**
   * Take new composite settings from the registry.
   */
  update(composite: unknown): void {
    this._current = readSettings(composite);
    this._changed.emit();
  }

  private _current: ILabSettings = { ...DEFAULT_SETTINGS };
  private _changed = new Signal<this, void>(this);
}
