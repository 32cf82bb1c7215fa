import { executedCopy, IRun, RunsError, RunsPanel, runSummary } from '../runs';

function run(changes: Partial<IRun>): IRun {
  return {
    id: 'r1',
    path: 'jobs/daily.ipynb',
    status: 'succeeded',
    created: '2026-12-03T00:00:00Z',
    duration_s: 12.34,
    output_path: 'pyspark-kernel-runs/r1/daily.ipynb',
    error: null,
    progress: { cells_done: 7, cells_total: 7 },
    ...changes
  };
}

describe('runSummary', () => {
  it('says how far a run got and how it ended', () => {
    expect(runSummary(run({}))).toBe('succeeded in 12.3 s');
    expect(
      runSummary(
        run({ status: 'running', progress: { cells_done: 3, cells_total: 7 } })
      )
    ).toBe('running \u00b7 3/7 cells');
    expect(runSummary(run({ status: 'queued', duration_s: null }))).toBe(
      'queued'
    );
    expect(
      runSummary(
        run({
          status: 'failed',
          error: { cell: 4, ename: 'ValueError', evalue: 'bad row' }
        })
      )
    ).toBe('failed at cell 4: ValueError: bad row');
    expect(
      runSummary(
        run({
          status: 'failed',
          error: { cell: null, ename: 'DeadKernelError', evalue: 'gone' }
        })
      )
    ).toBe('failed: DeadKernelError: gone');
    expect(
      runSummary(
        run({ status: 'timeout', progress: { cells_done: 1, cells_total: 2 } })
      )
    ).toBe('timed out in 12.3 s \u00b7 1/2 cells');
  });
});

describe('executedCopy', () => {
  it('opens copies under the server root only', () => {
    expect(executedCopy(run({}))).toBe('pyspark-kernel-runs/r1/daily.ipynb');
    expect(executedCopy(run({ output_path: '/srv/runs/r1/daily.ipynb' }))).toBe(
      null
    );
    expect(executedCopy(run({ output_path: 'C:\\runs\\daily.ipynb' }))).toBe(
      null
    );
    expect(executedCopy(run({ output_path: null }))).toBe(null);
  });
});

class Client {
  runs: IRun[] = [];
  started: string[] = [];
  cancelled: string[] = [];
  fail = '';
  async list(): Promise<IRun[]> {
    if (this.fail) {
      throw new RunsError(this.fail);
    }
    return this.runs;
  }
  async start(path: string): Promise<IRun> {
    this.started.push(path);
    const started = run({ id: 'r2', path, status: 'queued' });
    this.runs = [started, ...this.runs];
    return started;
  }
  async cancel(id: string): Promise<IRun> {
    this.cancelled.push(id);
    return run({ id, status: 'cancelled' });
  }
}

function panel(client: Client, current: string | null = 'jobs/daily.ipynb') {
  const opened: string[] = [];
  const events: string[] = [];
  const widget = new RunsPanel({
    client,
    currentPath: () => current,
    saveCurrent: async () => {
      events.push('saved');
    },
    open: path => opened.push(path)
  });
  return { widget, opened, events };
}

describe('RunsPanel', () => {
  it('lists the runs, opens the executed copy and cancels active runs', async () => {
    const client = new Client();
    client.runs = [
      run({ id: 'a', status: 'running', output_path: 'runs/a/x.ipynb' }),
      run({ id: 'b', output_path: '/outside/b.ipynb' })
    ];
    const { widget, opened } = panel(client);
    await widget.refresh();
    const items = widget.node.querySelectorAll('.pysk-run');
    expect(items).toHaveLength(2);
    expect(items[0].classList).toContain('pysk-run-running');
    expect(items[0].querySelector('.pysk-run-detail')?.textContent).toBe(
      'running \u00b7 7/7 cells'
    );
    (items[0].querySelector('.pysk-run-path') as HTMLButtonElement).click();
    (items[1].querySelector('.pysk-run-path') as HTMLButtonElement).click();
    expect(opened).toEqual(['runs/a/x.ipynb', 'jobs/daily.ipynb']);
    expect(items[1].querySelector('.pysk-run-cancel')).toBeNull();
    (items[0].querySelector('.pysk-run-cancel') as HTMLButtonElement).click();
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(client.cancelled).toEqual(['a']);
  });

  it('saves the current notebook, then starts it', async () => {
    const client = new Client();
    const { widget, events } = panel(client);
    await widget.runCurrent();
    expect(events).toEqual(['saved']);
    expect(client.started).toEqual(['jobs/daily.ipynb']);
    expect(widget.runs.map(r => r.status)).toEqual(['queued']);
    expect(widget.node.querySelector('.pysk-browser-state')?.textContent).toBe(
      'started jobs/daily.ipynb'
    );
  });

  it('says what went wrong, and when there is nothing to run', async () => {
    const client = new Client();
    client.fail =
      'this server has no runs API (pyspark-kernel server extension)';
    const { widget } = panel(client, null);
    await widget.refresh();
    const state = widget.node.querySelector('.pysk-browser-state')!;
    expect(state.textContent).toBe(client.fail);
    expect(state.classList).toContain('pysk-runs-error');
    client.fail = '';
    await widget.runCurrent();
    expect(client.started).toEqual([]);
    expect(state.textContent).toBe('open a notebook to run it');
    expect(widget.node.querySelector('.pysk-tree-note')?.textContent).toBe(
      'no runs yet on this server'
    );
  });
});
