/**
 * Renderer of `application/vnd.pyspark-kernel.progress.v1+json`: one bar per
 * running Spark job, then a one-line summary once the cell is done.
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';

import { formatCount, formatDuration, plural } from './format';
import { sparkUiHref } from './links';
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

function normalize(data: unknown): IProgressPayload | null {
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

function link(
  href: string,
  text: string,
  className: string
): HTMLAnchorElement {
  const a = document.createElement('a');
  a.className = className;
  a.textContent = text;
  // Only http(s) links and the server's Spark UI proxy: the payload may come
  // from an untrusted notebook.
  const safe = sparkUiHref(href);
  if (safe !== null) {
    a.href = safe;
  }
  a.target = '_blank';
  a.rel = 'noopener noreferrer';
  return a;
}

function bar(done: number, failed: number, total: number): HTMLDivElement {
  const node = document.createElement('div');
  node.className = 'pysk-bar';
  const percent = total > 0 ? Math.min(100, (done * 100) / total) : 0;
  const failedPercent =
    total > 0 ? Math.min(100 - percent, (failed * 100) / total) : 0;
  node.setAttribute('role', 'progressbar');
  node.setAttribute('aria-valuemin', '0');
  node.setAttribute('aria-valuemax', String(total));
  node.setAttribute('aria-valuenow', String(done));
  const fill = document.createElement('div');
  fill.className = 'pysk-bar-fill';
  fill.style.width = `${percent}%`;
  node.appendChild(fill);
  if (failedPercent > 0) {
    const bad = document.createElement('div');
    bad.className = 'pysk-bar-failed';
    bad.style.width = `${failedPercent}%`;
    node.appendChild(bad);
  }
  return node;
}

/**
 * A widget rendering the Spark job progress of a cell.
 */
export class RenderedProgress extends Widget implements IRenderMime.IRenderer {
  constructor(options: IRenderMime.IRendererOptions) {
    super();
    this._mimeType = options.mimeType;
    this.addClass('pysk-Progress');
  }

  /**
   * Render the payload; called again on each `update_display_data`.
   */
  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const payload = normalize(model.data[this._mimeType]);
    const node = this.node;
    node.textContent = '';
    if (!payload) {
      delete node.dataset.state;
      delete node.dataset.percent;
      const error = document.createElement('div');
      error.className = 'pysk-error';
      error.textContent =
        'pyspark-kernel: this progress payload cannot be read';
      node.appendChild(error);
      return;
    }
    const percent = percentDone(payload);
    node.dataset.state = payload.state;
    node.dataset.percent = String(percent);
    if (payload.state === 'running') {
      this._renderRunning(payload, percent);
    } else {
      this._renderSummary(payload);
    }
  }

  private _renderRunning(payload: IProgressPayload, percent: number): void {
    const head = document.createElement('div');
    head.className = 'pysk-progress-head';
    const label = document.createElement('span');
    label.className = 'pysk-progress-label';
    label.textContent = `Spark: ${percent}% of ${plural(payload.totals.tasks, 'task')} \u00b7 ${formatDuration(payload.elapsed_ms)}`;
    head.appendChild(label);
    if (payload.ui_url) {
      head.appendChild(link(payload.ui_url, 'Spark UI', 'pysk-link'));
    }
    this.node.appendChild(head);
    for (const job of payload.jobs) {
      this.node.appendChild(this._job(job));
    }
  }

  private _job(job: IJob): HTMLDivElement {
    const row = document.createElement('div');
    row.className = 'pysk-job';
    row.dataset.jobId = String(job.job_id);
    row.dataset.status = job.status;

    const head = document.createElement('div');
    head.className = 'pysk-job-head';
    const title = job.url
      ? link(job.url, `Job ${job.job_id}`, 'pysk-link pysk-job-link')
      : document.createElement('span');
    if (!job.url) {
      title.className = 'pysk-job-link';
      title.textContent = `Job ${job.job_id}`;
    }
    title.title = 'open this job in the Spark UI';
    head.appendChild(title);
    const name = document.createElement('span');
    name.className = 'pysk-job-name';
    name.textContent = job.name;
    name.title = job.name;
    head.appendChild(name);
    const count = document.createElement('span');
    count.className = 'pysk-job-count';
    let countText = `${formatCount(job.num_completed_tasks)}/${plural(job.num_tasks, 'task')}`;
    if (job.num_failed_tasks > 0) {
      countText += ` \u00b7 ${formatCount(job.num_failed_tasks)} failed`;
    }
    count.textContent = countText;
    head.appendChild(count);
    row.appendChild(head);

    row.appendChild(
      bar(job.num_completed_tasks, job.num_failed_tasks, job.num_tasks)
    );

    if (job.stages && job.stages.length > 0) {
      const stages = document.createElement('div');
      stages.className = 'pysk-stages';
      stages.appendChild(document.createTextNode('stages '));
      job.stages.forEach((stage, index) => {
        if (index > 0) {
          stages.appendChild(document.createTextNode(' \u00b7 '));
        }
        const span = document.createElement('span');
        span.className = 'pysk-stage';
        if (stage.num_active_tasks > 0) {
          span.classList.add('pysk-stage-active');
        }
        span.textContent = stageText(stage);
        span.title = stage.name;
        stages.appendChild(span);
      });
      row.appendChild(stages);
    }
    return row;
  }

  private _renderSummary(payload: IProgressPayload): void {
    const line = document.createElement('div');
    line.className = `pysk-summary pysk-summary-${payload.state}`;
    const icon = document.createElement('span');
    icon.className = 'pysk-summary-icon';
    icon.textContent =
      payload.state === 'done'
        ? '\u2713'
        : payload.state === 'failed'
          ? '\u2717'
          : '\u25a0';
    icon.setAttribute('aria-hidden', 'true');
    line.appendChild(icon);
    const text = document.createElement('span');
    text.className = 'pysk-summary-text';
    text.textContent = summaryLine(payload);
    line.appendChild(text);
    if (payload.ui_url) {
      line.appendChild(link(payload.ui_url, 'Spark UI', 'pysk-link'));
    }
    this.node.appendChild(line);
  }

  private _mimeType: string;
}

/**
 * Renderer factory for progress payloads.
 */
export const progressRendererFactory: IRenderMime.IRendererFactory = {
  safe: true,
  mimeTypes: [PROGRESS_MIME_TYPE],
  defaultRank: 0,
  createRenderer: options => new RenderedProgress(options)
};
