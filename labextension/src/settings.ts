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
  /** Milliseconds to wait for Spark's work on a whole result. */
  resultTimeoutMs: number;
  /** At most this many x values in a chart. */
  chartGroups: number;
  /** Whether the status bar shows the Spark session of the notebook. */
  statusBar: boolean;
}

/**
 * The defaults; `schema/plugin.json` states the same values.
 */
export const DEFAULT_SETTINGS: Readonly<ILabSettings> = {
  pageSize: 50,
  requestTimeoutMs: 30_000,
  resultTimeoutMs: 300_000,
  chartGroups: 50,
  statusBar: true
};

/**
 * Read composite settings (`pageSize`, `requestTimeout` and `resultTimeout`
 * in seconds, `chartGroups`, `statusBar`); a missing or out-of-range value
 * falls back to its default.
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
  const seconds = (value: unknown, max: number) =>
    typeof value === 'number' && value >= 1 && value <= max
      ? Math.round(value * 1000)
      : null;
  return {
    pageSize: int(c.pageSize, 1, 10_000) ?? DEFAULT_SETTINGS.pageSize,
    requestTimeoutMs:
      seconds(c.requestTimeout, 600) ?? DEFAULT_SETTINGS.requestTimeoutMs,
    resultTimeoutMs:
      seconds(c.resultTimeout, 3600) ?? DEFAULT_SETTINGS.resultTimeoutMs,
    chartGroups: int(c.chartGroups, 1, 500) ?? DEFAULT_SETTINGS.chartGroups,
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
