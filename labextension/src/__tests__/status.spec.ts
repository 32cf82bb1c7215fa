import type { NotebookPanel } from '@jupyterlab/notebook';
import { Signal } from '@lumino/signaling';

import { SparkChannel } from '../channel';
import { LabSettings } from '../settings';
import {
  IStatusFollowerOptions,
  SparkStatusFollower,
  SparkStatusItem,
  statusText,
  statusTitle
} from '../status';
import { channelFixtures } from './helpers';
import { FakeKernel, FakeSession, flush } from './kernel';

/**
 * A notebook tracker over fake panels, each with its own channel.
 */
class Notebooks {
  currentWidget: NotebookPanel | null = null;
  currentChanged = new Signal<this, NotebookPanel | null>(this);
  channels = new Map<NotebookPanel, SparkChannel>();

  async open(kernel: FakeKernel): Promise<NotebookPanel> {
    const panel = {} as NotebookPanel;
    this.channels.set(
      panel,
      new SparkChannel({
        sessionContext: new FakeSession(kernel).context,
        timeoutMs: () => 1000
      })
    );
    await flush();
    this.show(panel);
    return panel;
  }

  show(panel: NotebookPanel | null): void {
    this.currentWidget = panel;
    this.currentChanged.emit(panel);
  }

  dispose(): void {
    this.channels.forEach(channel => channel.dispose());
  }
}

let notebooks: Notebooks;
let item: SparkStatusItem;
let settings: LabSettings;
let follower: SparkStatusFollower;

beforeEach(() => {
  notebooks = new Notebooks();
  item = new SparkStatusItem();
  settings = new LabSettings();
  follower = new SparkStatusFollower({
    tracker: notebooks as unknown as IStatusFollowerOptions['tracker'],
    channelOf: panel => notebooks.channels.get(panel),
    item,
    settings
  });
});

afterEach(() => {
  follower.dispose();
  item.dispose();
  notebooks.dispose();
});

function text(): string {
  return item.node.querySelector('.pysk-status-text')!.textContent!;
}

describe('status bar item', () => {
  it('reads state and master', () => {
    const ready = channelFixtures.statusReply().status;
    expect(statusText(ready)).toBe('Spark: ready \u00b7 local[*]');
    expect(statusTitle(ready)).toBe(
      'Spark 4.2.0 \u00b7 local-1764478800000 \u00b7 http://127.0.0.1:4040'
    );
    const failed = {
      ...ready,
      state: 'failed' as const,
      master: null,
      remote: true,
      error: '[CONNECT] cannot reach sc://h:15002'
    };
    expect(statusText(failed)).toBe('Spark: failed');
    expect(statusTitle(failed)).toMatch(
      /^\[CONNECT\] cannot reach sc:\/\/h:15002 · Spark Connect · Spark 4\.2\.0/
    );
  });

  it('links the Spark UI only where a link may go', () => {
    const status = channelFixtures.statusReply().status;
    const link = () => item.node.querySelector('a')!;
    item.setStatus(status);
    expect(link().hidden).toBe(false);
    expect(link().getAttribute('href')).toBe('http://127.0.0.1:4040');
    const proxied =
      '/user/me/pyspark-kernel/sparkui/0b3c3a5e-8d1f-4c1e-9d55-2f7c6a1e9a10/';
    item.setStatus({ ...status, ui_url: proxied });
    expect(link().getAttribute('href')).toBe(proxied);
    item.setStatus({ ...status, ui_url: '/user/me/api/contents' });
    expect(link().hasAttribute('href')).toBe(false);
    item.setStatus({ ...status, ui_url: 'javascript:alert(1)' });
    expect(link().hidden).toBe(true);
    expect(link().hasAttribute('href')).toBe(false);
  });

  it('shows ready as soon as the status push says so', async () => {
    const kernel = new FakeKernel();
    await notebooks.open(kernel);
    const changes: boolean[] = [];
    follower.activeStateChanged.connect(() => changes.push(follower.isActive));
    expect(follower.isActive).toBe(false);
    expect(text()).toBe('Spark: \u2013');

    kernel.comm.receive(channelFixtures.statusPushStarting());
    expect(follower.isActive).toBe(true);
    expect(item.node.dataset.state).toBe('starting');
    expect(item.node.classList).toContain('pysk-status-starting');
    expect(text()).toBe('Spark: starting \u00b7 local[*]');

    kernel.comm.receive({
      ...channelFixtures.statusReply(),
      id: undefined,
      push: true
    });
    expect(item.node.dataset.state).toBe('ready');
    expect(item.node.classList).not.toContain('pysk-status-starting');
    expect(text()).toBe('Spark: ready \u00b7 local[*]');
    expect(changes).toEqual([true]);
    // The item asked the kernel nothing.
    expect(kernel.comm.sent).toEqual([]);
  });

  it('follows the current notebook', async () => {
    const spark = new FakeKernel();
    const sparkPanel = await notebooks.open(spark);
    spark.comm.receive(channelFixtures.statusReply());
    const plain = new FakeKernel({
      name: 'python3',
      implementation: 'ipython'
    });
    const plainPanel = await notebooks.open(plain);
    expect(plain.comms).toHaveLength(0);
    expect(follower.isActive).toBe(false);
    expect(text()).toBe('Spark: \u2013');
    notebooks.show(sparkPanel);
    expect(follower.isActive).toBe(true);
    notebooks.show(null);
    expect(follower.isActive).toBe(false);
    notebooks.show(plainPanel);
    expect(follower.isActive).toBe(false);
  });

  it('hides while the kernel restarts, and when the settings say so', async () => {
    const kernel = new FakeKernel();
    await notebooks.open(kernel);
    kernel.comm.receive(channelFixtures.statusReply());
    expect(follower.isActive).toBe(true);
    kernel.setStatus('restarting');
    expect(follower.isActive).toBe(false);
    expect(item.node.dataset.state).toBeUndefined();
    kernel.setStatus('idle');
    await flush();
    kernel.comm.receive(channelFixtures.statusPushStarting());
    expect(follower.isActive).toBe(true);

    settings.update({ statusBar: false });
    expect(follower.isActive).toBe(false);
    settings.update({});
    expect(follower.isActive).toBe(true);
  });
});
