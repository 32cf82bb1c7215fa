import {
  percentDone,
  progressRendererFactory,
  RenderedProgress,
  summaryLine
} from '../progress';
import { IProgressPayload, PROGRESS_MIME_TYPE } from '../types';
import { disposeAll, fixtures, mimeModel, render, texts } from './helpers';

afterEach(disposeAll);

function synthetic(
  state: IProgressPayload['state'],
  completed: number
): IProgressPayload {
  return {
    version: 1,
    state,
    elapsed_ms: 5100,
    ui_url: null,
    jobs: [],
    totals: {
      jobs: 3,
      stages: 5,
      tasks: 210,
      completed_tasks: completed,
      failed_tasks: 0
    }
  };
}

describe('progress renderer', () => {
  it('is a safe factory for the progress mime type', () => {
    expect(progressRendererFactory().safe).toBe(true);
    expect(progressRendererFactory().mimeTypes).toEqual([PROGRESS_MIME_TYPE]);
  });

  it('shows a bar per running job with its stages and a Spark UI link', async () => {
    const widget = await render<RenderedProgress>(
      progressRendererFactory(),
      fixtures.progressRunning()
    );
    const node = widget.node;
    expect(node.dataset.state).toBe('running');
    expect(node.getAttribute('data-percent')).toBe('40');
    const jobs = node.querySelectorAll('.pysk-job');
    expect(jobs).toHaveLength(1);
    const fill = jobs[0].querySelector('.pysk-bar-fill') as HTMLElement;
    expect(fill.style.width).toBe('40%');
    expect(
      jobs[0].querySelector('[role=progressbar]')!.getAttribute('aria-valuenow')
    ).toBe('4');
    expect(jobs[0].querySelector('.pysk-job-count')!.textContent).toBe(
      '4/10 tasks'
    );
    const link = jobs[0].querySelector('a.pysk-job-link') as HTMLAnchorElement;
    expect(link.textContent).toBe('Job 3');
    expect(link.href).toBe('http://127.0.0.1:4040/jobs/job/?id=3');
    expect(link.target).toBe('_blank');
    expect(link.rel).toContain('noopener');
    expect(texts(jobs[0].querySelectorAll('.pysk-stage'))).toEqual([
      '5 4/8 (2 running)',
      '6 0/2'
    ]);
    expect(node.querySelector('.pysk-progress-label')!.textContent).toBe(
      'Spark: 40% of 10 tasks \u00b7 1.8 s'
    );
    expect(node.querySelector('.pysk-summary')).toBeNull();
  });

  it('turns into a one-line summary when done', async () => {
    const widget = await render<RenderedProgress>(
      progressRendererFactory(),
      fixtures.progressRunning()
    );
    await widget.renderModel(
      mimeModel(PROGRESS_MIME_TYPE, fixtures.progressDone())
    );
    const node = widget.node;
    expect(node.getAttribute('data-percent')).toBe('100');
    expect(node.dataset.state).toBe('done');
    expect(node.querySelectorAll('.pysk-job')).toHaveLength(0);
    expect(node.querySelectorAll('.pysk-summary')).toHaveLength(1);
    expect(node.querySelector('.pysk-summary-text')!.textContent).toBe(
      '1 job, 2 stages, 10 tasks in 5.1 s'
    );
  });

  it('words summaries by state', () => {
    expect(summaryLine(synthetic('done', 210))).toBe(
      '3 jobs, 5 stages, 210 tasks in 5.1 s'
    );
    expect(summaryLine(synthetic('cancelled', 84))).toBe(
      'cancelled: 3 jobs, 5 stages, 84/210 tasks in 5.1 s'
    );
    const failed = synthetic('failed', 200);
    failed.totals.failed_tasks = 4;
    failed.elapsed_ms = 125000;
    expect(summaryLine(failed)).toBe(
      'failed: 3 jobs, 5 stages, 200/210 tasks (4 failed) in 2 min 5 s'
    );
  });

  it('computes the percent done', () => {
    expect(percentDone(synthetic('running', 0))).toBe(0);
    expect(percentDone(synthetic('running', 209))).toBe(99);
    expect(percentDone(synthetic('done', 100))).toBe(100);
    const empty = synthetic('running', 0);
    empty.totals.tasks = 0;
    expect(percentDone(empty)).toBe(0);
  });

  it('links to the Spark UI through the Jupyter server', async () => {
    const prefix =
      '/user/alice/pyspark-kernel/sparkui/0b3c3a5e-8d1f-4c1e-9d55-2f7c6a1e9a10';
    const payload = fixtures.progressRunning();
    payload.ui_url = prefix;
    payload.jobs[0].url = `${prefix}/jobs/job/?id=3`;
    const widget = await render<RenderedProgress>(
      progressRendererFactory(),
      payload
    );
    const job = widget.node.querySelector('a.pysk-job-link')!;
    expect(job.getAttribute('href')).toBe(`${prefix}/jobs/job/?id=3`);
    const ui = widget.node.querySelector('a.pysk-link')!;
    expect(ui.getAttribute('href')).toBe(prefix);
  });

  it('links only to http(s) URLs', async () => {
    const payload = fixtures.progressRunning();
    payload.jobs[0].url = 'javascript:alert(1)';
    const widget = await render<RenderedProgress>(
      progressRendererFactory(),
      payload
    );
    const link = widget.node.querySelector('a.pysk-job-link')!;
    expect(link.hasAttribute('href')).toBe(false);
  });
});
