/**
 * The notebook runs panel, a side panel over this server's runs API
 * (`pyspark-kernel/api/runs`, see docs/server.md): the runs newest first with
 * their status, progress and error; the current notebook started as a run
 * (saved first), a queued or running run cancelled, a run's executed copy
 * opened. Asked again every few seconds while the panel shows.
 */
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import { el } from './dom';
import { plural } from './format';

export type RunStatus =
  'queued' | 'running' | 'succeeded' | 'failed' | 'timeout' | 'cancelled';

/**
 * A run as the API answers it (the fields the panel reads).
 */
export interface IRun {
  id: string;
  path: string;
  status: RunStatus;
  created: string;
  duration_s: number | null;
  output_path: string | null;
  /** `cell`: the cell's index in the notebook, `null` when no cell failed. */
  error: { cell: number | null; ename: string; evalue: string } | null;
  progress: { cells_done: number; cells_total: number } | null;
}

/**
 * How often the panel asks while a run is active, and otherwise.
 */
export const POLL_ACTIVE_MS = 2000;
export const POLL_IDLE_MS = 10000;

export function isActive(run: IRun): boolean {
  return run.status === 'queued' || run.status === 'running';
}

/**
 * A failed request, with the API's one-line message.
 */
export class RunsError extends Error {}

/**
 * Requests to the runs API of the server the page came from.
 */
export class RunsClient {
  constructor(settings?: ServerConnection.ISettings) {
    this._settings = settings ?? ServerConnection.makeSettings();
  }

  /**
   * The runs, newest first.
   */
  async list(limit = 50): Promise<IRun[]> {
    const body = await this._request(`?limit=${limit}`, { method: 'GET' });
    return Array.isArray(body?.runs) ? (body.runs as IRun[]) : [];
  }

  /**
   * Start a run of the notebook at `path` (relative to the server's root).
   */
  async start(path: string): Promise<IRun> {
    return (await this._request('', {
      method: 'POST',
      body: JSON.stringify({ path })
    })) as IRun;
  }

  /**
   * Cancel a run; answered once it has ended.
   */
  async cancel(id: string): Promise<IRun> {
    return (await this._request(`/${encodeURIComponent(id)}`, {
      method: 'DELETE'
    })) as IRun;
  }

  private async _request(tail: string, init: RequestInit): Promise<any> {
    const url = `${this._settings.baseUrl}pyspark-kernel/api/runs${tail}`;
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(url, init, this._settings);
    } catch (reason) {
      throw new RunsError(`the server did not answer: ${String(reason)}`);
    }
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const message =
        typeof body?.message === 'string'
          ? body.message
          : response.status === 404
            ? 'this server has no runs API (pyspark-kernel server extension)'
            : `${response.status} ${response.statusText}`;
      throw new RunsError(message);
    }
    return body;
  }

  private _settings: ServerConnection.ISettings;
}

/**
 * One line on a run's state: `running · 3/7 cells`, `failed at cell 4:
 * ValueError: bad`, `succeeded in 12.3 s`.
 */
export function runSummary(run: IRun): string {
  const progress = run.progress
    ? `${run.progress.cells_done}/${plural(run.progress.cells_total, 'cell')}`
    : '';
  const took =
    run.duration_s !== null && run.duration_s !== undefined
      ? ` in ${run.duration_s.toFixed(1)} s`
      : '';
  switch (run.status) {
    case 'queued':
      return 'queued';
    case 'running':
      return progress ? `running \u00b7 ${progress}` : 'running';
    case 'failed':
      if (!run.error) {
        return `failed${took}`;
      }
      return run.error.cell === null
        ? `failed: ${run.error.ename}: ${run.error.evalue}`
        : `failed at cell ${run.error.cell}: ${run.error.ename}: ${run.error.evalue}`;
    case 'timeout':
      return `timed out${took}${progress ? ` \u00b7 ${progress}` : ''}`;
    default:
      return `${run.status}${took}`;
  }
}

/**
 * The path JupyterLab opens a run's executed copy by, or `null` when it is
 * outside the server's root (the API then gives it as an absolute path).
 */
export function executedCopy(run: IRun): string | null {
  const path = run.output_path;
  return path && !path.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(path)
    ? path
    : null;
}

/**
 * Options of `RunsPanel`.
 */
export interface IRunsPanelOptions {
  client: Pick<RunsClient, 'list' | 'start' | 'cancel'>;
  /** The path of the notebook to run (the current one), or `null`. */
  currentPath: () => string | null;
  /** Save the current notebook before it is run. */
  saveCurrent: () => Promise<void>;
  /** Open a notebook by its path. */
  open: (path: string) => void;
}

/**
 * The side panel.
 */
export class RunsPanel extends Widget {
  constructor(options: IRunsPanelOptions) {
    super();
    this.addClass('pysk-RunsPanel');
    this.id = 'pyspark-kernel-lab-runs';
    this.title.caption = 'Notebook runs';
    this._options = options;
    const head = el('div', 'pysk-browser-head');
    head.appendChild(el('span', 'pysk-browser-title', 'Notebook runs'));
    this._run = el('button', 'pysk-button pysk-runs-start', 'Run notebook');
    this._run.type = 'button';
    this._run.title =
      'run the current notebook on the server, on a kernel of its own (saved first)';
    this._run.addEventListener('click', () => void this.runCurrent());
    head.appendChild(this._run);
    this._state = el('div', 'pysk-browser-state');
    this._state.setAttribute('aria-live', 'polite');
    this._list = el('ul', 'pysk-runs');
    this.node.append(head, this._state, this._list);
  }

  /**
   * The runs last listed.
   */
  get runs(): readonly IRun[] {
    return this._runs;
  }

  /**
   * List the runs again (and again after a while, while the panel shows:
   * sooner while a run is active).
   */
  async refresh(): Promise<void> {
    try {
      this._runs = await this._options.client.list();
      this._error = '';
    } catch (reason) {
      this._error = String((reason as Error).message ?? reason);
    }
    this._render();
    if (this.isVisible && !this.isDisposed) {
      this._schedule();
    }
  }

  /**
   * Save the current notebook and start a run of it.
   */
  async runCurrent(): Promise<void> {
    const path = this._options.currentPath();
    if (!path) {
      this._note('open a notebook to run it');
      return;
    }
    this._run.disabled = true;
    try {
      await this._options.saveCurrent();
      const run = await this._options.client.start(path);
      this._note(`started ${run.path}`);
    } catch (reason) {
      this._note(String((reason as Error).message ?? reason));
    } finally {
      this._run.disabled = false;
    }
    await this.refresh();
  }

  /**
   * Cancel a run.
   */
  async cancel(id: string): Promise<void> {
    try {
      await this._options.client.cancel(id);
    } catch (reason) {
      this._note(String((reason as Error).message ?? reason));
    }
    await this.refresh();
  }

  dispose(): void {
    this._stopPolling();
    super.dispose();
  }

  protected onAfterShow(): void {
    void this.refresh();
  }

  protected onAfterHide(): void {
    this._stopPolling();
  }

  private _schedule(): void {
    this._stopPolling();
    const delay = this._runs.some(isActive) ? POLL_ACTIVE_MS : POLL_IDLE_MS;
    this._timer = window.setTimeout(() => {
      this._timer = null;
      if (this.isVisible && !this.isDisposed) {
        void this.refresh();
      }
    }, delay);
  }

  private _stopPolling(): void {
    if (this._timer !== null) {
      window.clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _note(text: string): void {
    this._message = text;
    this._error = ''; // the latest word shows; the next listing says if it still fails
    this._render();
  }

  private _render(): void {
    this._state.textContent = this._error || this._message;
    this._state.classList.toggle('pysk-runs-error', !!this._error);
    this._list.replaceChildren(...this._runs.map(run => this._item(run)));
    if (this._runs.length === 0 && !this._error) {
      this._list.appendChild(
        el('li', 'pysk-tree-note', 'no runs yet on this server')
      );
    }
  }

  private _item(run: IRun): HTMLLIElement {
    const item = el('li', `pysk-run pysk-run-${run.status}`);
    item.dataset.runId = run.id;
    const line = el('div', 'pysk-run-line');
    line.appendChild(el('span', 'pysk-run-status', run.status));
    // The executed copy, when it is under the server's root (a relative path).
    const output = executedCopy(run);
    const target = output ?? run.path;
    const name = el('button', 'pysk-tree-name pysk-run-path', run.path);
    name.type = 'button';
    name.title = output
      ? `open the executed copy: ${output}`
      : `open ${run.path}`;
    name.addEventListener('click', () => this._options.open(target));
    line.appendChild(name);
    if (isActive(run)) {
      const cancel = el('button', 'pysk-button pysk-run-cancel', 'Cancel');
      cancel.type = 'button';
      cancel.title = 'interrupt the run (its Spark jobs are cancelled)';
      cancel.addEventListener('click', () => {
        cancel.disabled = true;
        void this.cancel(run.id);
      });
      line.appendChild(cancel);
    }
    item.append(line, el('div', 'pysk-run-detail', runSummary(run)));
    item.title = `started ${run.created}`;
    return item;
  }

  private _options: IRunsPanelOptions;
  private _run: HTMLButtonElement;
  private _state: HTMLDivElement;
  private _list: HTMLUListElement;
  private _runs: IRun[] = [];
  private _error = '';
  private _message = '';
  private _timer: number | null = null;
}
