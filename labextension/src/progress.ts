/**
 * Renderer of `application/vnd.pyspark-kernel.progress.v1+json`: one bar per
 * running Spark job, then a one-line summary once the cell is done.
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';

import { el, link } from './dom';
import { formatCount, formatDuration, plural } from './format';
import { IRendererContext, RenderedPayload } from './rendered';
import {
  IJob,
  IProgressPayload,
  IProgressTotals,
  IStage,
  PROGRESS_MIME_TYPE
} from './types';

/**
 * Percent of tasks done (0–100, whole number); 100 once the state is `done`.
 */
export function percentDone(payload: IProgressPayload): number {
  if (payload.state === 'done') {
    return 100;
  }
  const { tasks, completed_tasks } = payload.totals;
  if (!tasks || tasks <= 0) {
    return 0;
  }
  return Math.max(
    0,
    Math.min(100, Math.floor((completed_tasks * 100) / tasks))
  );
}

/**
 * The one-line summary of a finished cell:
 * `3 jobs, 5 stages, 210 tasks in 5.1 s`, prefixed with the state when it
 * is not `done`, with completed/total tasks and failures where useful.
 */
export function summaryLine(payload: IProgressPayload): string {
  const t = payload.totals;
  const tasks =
    payload.state === 'done' || t.completed_tasks === t.tasks
      ? plural(t.tasks, 'task')
      : `${formatCount(t.completed_tasks)}/${plural(t.tasks, 'task')}`;
  let line = `${plural(t.jobs, 'job')}, ${plural(t.stages, 'stage')}, ${tasks}`;
  if (t.failed_tasks > 0) {
    line += ` (${formatCount(t.failed_tasks)} failed)`;
  }
  line += ` in ${formatDuration(payload.elapsed_ms)}`;
  return payload.state === 'done' ? line : `${payload.state}: ${line}`;
}

function stageText(stage: IStage): string {
  let text = `${stage.stage_id}`;
  if (stage.attempt > 0) {
    text += `.${stage.attempt}`;
  }
  text += ` ${formatCount(stage.num_completed_tasks)}/${formatCount(stage.num_tasks)}`;
  if (stage.num_active_tasks > 0) {
    text += ` (${formatCount(stage.num_active_tasks)} running)`;
  }
  if (stage.num_failed_tasks > 0) {
    text += ` (${formatCount(stage.num_failed_tasks)} failed)`;
  }
  return text;
}

/**
 * A progress payload with defaults for missing fields; `null` if unreadable.
 */
export function readProgress(data: unknown): IProgressPayload | null {
  if (!data || typeof data !== 'object') {
    return null;
  }
  const p = data as Partial<IProgressPayload>;
  const jobs = Array.isArray(p.jobs) ? p.jobs : [];
  const totals: IProgressTotals = p.totals ?? {
    jobs: jobs.length,
    stages: jobs.reduce((n, j) => n + (j.stages?.length ?? 0), 0),
    tasks: jobs.reduce((n, j) => n + (j.num_tasks ?? 0), 0),
    completed_tasks: jobs.reduce((n, j) => n + (j.num_completed_tasks ?? 0), 0),
    failed_tasks: jobs.reduce((n, j) => n + (j.num_failed_tasks ?? 0), 0)
  };
  return {
    version: 1,
    state: p.state ?? 'running',
    elapsed_ms: p.elapsed_ms ?? 0,
    ui_url: p.ui_url ?? null,
    jobs,
    totals
  };
}

function bar(done: number, failed: number, total: number): HTMLDivElement {
  const node = el('div', 'pysk-bar');
  const percent = total > 0 ? Math.min(100, (done * 100) / total) : 0;
  const failedPercent =
    total > 0 ? Math.min(100 - percent, (failed * 100) / total) : 0;
  node.setAttribute('role', 'progressbar');
  node.setAttribute('aria-valuemin', '0');
  node.setAttribute('aria-valuemax', String(total));
  node.setAttribute('aria-valuenow', String(done));
  const fill = el('div', 'pysk-bar-fill');
  fill.style.width = `${percent}%`;
  node.appendChild(fill);
  if (failedPercent > 0) {
    const bad = el('div', 'pysk-bar-failed');
    bad.style.width = `${failedPercent}%`;
    node.appendChild(bad);
  }
  return node;
}

/**
 * A widget rendering the Spark job progress of a cell.
 */
export class RenderedProgress extends RenderedPayload<IProgressPayload> {
  constructor(
    options: IRenderMime.IRendererOptions,
    context: IRendererContext = {}
  ) {
    super(options, context, 'pysk-Progress', 'progress');
  }

  protected parse(data: unknown): IProgressPayload | null {
    return readProgress(data);
  }

  protected render(payload: IProgressPayload): void {
    const percent = percentDone(payload);
    this.node.dataset.state = payload.state;
    this.node.dataset.percent = String(percent);
    if (payload.state === 'running') {
      this._renderRunning(payload, percent);
    } else {
      this._renderSummary(payload);
    }
  }

  private _renderRunning(payload: IProgressPayload, percent: number): void {
    const head = el('div', 'pysk-progress-head');
    head.appendChild(
      el(
        'span',
        'pysk-progress-label',
        `Spark: ${percent}% of ${plural(payload.totals.tasks, 'task')} \u00b7 ${formatDuration(payload.elapsed_ms)}`
      )
    );
    if (payload.ui_url) {
      head.appendChild(link(payload.ui_url, 'Spark UI', 'pysk-link'));
    }
    this.node.appendChild(head);
    for (const job of payload.jobs) {
      this.node.appendChild(this._job(job));
    }
  }

  private _job(job: IJob): HTMLDivElement {
    const row = el('div', 'pysk-job');
    row.dataset.jobId = String(job.job_id);
    row.dataset.status = job.status;

    const head = el('div', 'pysk-job-head');
    const title = job.url
      ? link(job.url, `Job ${job.job_id}`, 'pysk-link pysk-job-link')
      : el('span', 'pysk-job-link', `Job ${job.job_id}`);
    title.title = 'open this job in the Spark UI';
    head.appendChild(title);
    const name = el('span', 'pysk-job-name', job.name);
    name.title = job.name;
    head.appendChild(name);
    let count = `${formatCount(job.num_completed_tasks)}/${plural(job.num_tasks, 'task')}`;
    if (job.num_failed_tasks > 0) {
      count += ` \u00b7 ${formatCount(job.num_failed_tasks)} failed`;
    }
    head.appendChild(el('span', 'pysk-job-count', count));
    row.appendChild(head);

    row.appendChild(
      bar(job.num_completed_tasks, job.num_failed_tasks, job.num_tasks)
    );

    if (job.stages && job.stages.length > 0) {
      const stages = el('div', 'pysk-stages', 'stages ');
      job.stages.forEach((stage, index) => {
        if (index > 0) {
          stages.appendChild(document.createTextNode(' \u00b7 '));
        }
        const span = el('span', 'pysk-stage', stageText(stage));
        if (stage.num_active_tasks > 0) {
          span.classList.add('pysk-stage-active');
        }
        span.title = stage.name;
        stages.appendChild(span);
      });
      row.appendChild(stages);
    }
    return row;
  }

  private _renderSummary(payload: IProgressPayload): void {
    const line = el('div', `pysk-summary pysk-summary-${payload.state}`);
    const icon = el(
      'span',
      'pysk-summary-icon',
      payload.state === 'done'
        ? '\u2713'
        : payload.state === 'failed'
          ? '\u2717'
          : '\u25a0'
    );
    icon.setAttribute('aria-hidden', 'true');
    line.appendChild(icon);
    line.appendChild(el('span', 'pysk-summary-text', summaryLine(payload)));
    if (payload.ui_url) {
      line.appendChild(link(payload.ui_url, 'Spark UI', 'pysk-link'));
    }
    this.node.appendChild(line);
  }
}

/**
 * Renderer factory for progress payloads.
 */
export function progressRendererFactory(
  context: IRendererContext = {}
): IRenderMime.IRendererFactory {
  return {
    safe: true,
    mimeTypes: [PROGRESS_MIME_TYPE],
    defaultRank: 0,
    createRenderer: options => new RenderedProgress(options, context)
  };
}
