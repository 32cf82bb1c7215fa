import type { NotebookPanel } from '@jupyterlab/notebook';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import {
  DataBrowser,
  IDataBrowserOptions,
  quoteIdentifier,
  selectCell
} from '../browser';
import type { SparkChannel } from '../channel';
import { channelFixtures, texts } from './helpers';
import { answer, FakeKernel, flush, openChannel } from './kernel';

class Tracker {
  currentWidget: NotebookPanel | null = null;
  currentChanged = new Signal<this, NotebookPanel | null>(this);

  show(panel: NotebookPanel | null): void {
    this.currentWidget = panel;
    this.currentChanged.emit(panel);
  }
}

const made: { browser: DataBrowser; channel: SparkChannel }[] = [];

afterEach(() => {
  while (made.length) {
    const { browser, channel } = made.pop()!;
    if (browser.isAttached) {
      Widget.detach(browser);
    }
    browser.dispose();
    channel.dispose();
  }
});

async function setup(): Promise<{
  browser: DataBrowser;
  kernel: FakeKernel;
  tracker: Tracker;
  inserted: [NotebookPanel, string][];
  panel: NotebookPanel;
}> {
  const { channel, kernel } = await openChannel();
  const tracker = new Tracker();
  const panel = { id: 'nb-1' } as NotebookPanel;
  const inserted: [NotebookPanel, string][] = [];
  const browser = new DataBrowser({
    tracker: tracker as unknown as IDataBrowserOptions['tracker'],
    channelOf: p => (p === panel ? channel : undefined),
    insertBelow: (p, text) => inserted.push([p, text])
  });
  Widget.attach(browser, document.body);
  made.push({ browser, channel });
  return { browser, kernel, tracker, inserted, panel };
}

function entry(browser: DataBrowser, kind: string, name: string): HTMLElement {
  return browser.node.querySelector(
    `[data-kind="${kind}"][data-name="${name}"]`
  ) as HTMLElement;
}

describe('DataBrowser', () => {
  it('asks the current notebook for its catalog once, and lists it', async () => {
    const { browser, kernel, tracker, panel } = await setup();
    expect(browser.node.querySelector('.pysk-browser-state')!.textContent).toBe(
      'open a notebook on a PySpark kernel'
    );
    tracker.show(panel);
    expect(kernel.comm.last).toMatchObject({ op: 'catalog' });
    expect(kernel.comm.last.table).toBeUndefined();
    // Status pushes do not ask again while the answer is on its way.
    kernel.comm.receive(channelFixtures.statusReply());
    expect(kernel.comm.sent).toHaveLength(1);
    await answer(kernel, channelFixtures.catalogReply());
    expect(browser.node.querySelector('.pysk-browser-state')!.textContent).toBe(
      'current database: default'
    );
    expect(
      texts(browser.node.querySelectorAll('.pysk-browser-heading'))
    ).toEqual([
      'Temporary views (1)',
      'Database default (1)',
      'DataFrames (1)'
    ]);
    const view = entry(browser, 'view', 'sales_2024');
    expect(view.querySelector('.pysk-tree-note')!.textContent).toBe(
      '2 columns'
    );
    expect(entry(browser, 'table', 'default.orders')).not.toBeNull();
    expect(entry(browser, 'dataframe', 'df')).not.toBeNull();
  });

  it('shows columns and struct fields, a table’s when expanded', async () => {
    const { browser, kernel, tracker, panel } = await setup();
    tracker.show(panel);
    await answer(kernel, channelFixtures.catalogReply());
    const toggle = (kind: string, name: string) =>
      (
        entry(browser, kind, name).querySelector(
          '.pysk-tree-toggle'
        ) as HTMLElement
      ).click();
    toggle('view', 'sales_2024');
    const view = entry(browser, 'view', 'sales_2024');
    expect(
      texts(
        view.querySelectorAll(
          ':scope > .pysk-tree-columns > li > .pysk-column-name'
        )
      )
    ).toEqual(['quantity', 'addr']);
    expect(
      view.querySelector('[data-column="city"] .pysk-column-type')!.textContent
    ).toBe('string');
    expect(
      view.querySelector('.pysk-tree-toggle')!.getAttribute('aria-expanded')
    ).toBe('true');

    toggle('table', 'default.orders');
    expect(kernel.comm.last).toMatchObject({
      op: 'catalog',
      table: 'default.orders'
    });
    expect(
      entry(browser, 'table', 'default.orders').querySelector(
        '.pysk-tree-loading'
      )
    ).not.toBeNull();
    await answer(kernel, {
      op: 'catalog',
      ok: true,
      table: 'default.orders',
      columns: [{ name: 'order_id', type: 'bigint', fields: [] }]
    });
    const table = entry(browser, 'table', 'default.orders');
    expect(texts(table.querySelectorAll('.pysk-column-name'))).toEqual([
      'order_id'
    ]);
    // Expanded entries stay so when the next push comes.
    kernel.comm.receive({
      ...channelFixtures.catalogReply(),
      id: undefined,
      push: true
    });
    await flush();
    expect(kernel.comm.last).toMatchObject({ table: 'default.orders' });
    expect(
      entry(browser, 'view', 'sales_2024').querySelectorAll('.pysk-tree-column')
        .length
    ).toBe(3);
  });

  it('inserts a %%sql cell for a table or view', async () => {
    const { browser, kernel, tracker, inserted, panel } = await setup();
    tracker.show(panel);
    await answer(kernel, channelFixtures.catalogReply());
    (
      entry(browser, 'view', 'sales_2024').querySelector(
        'button.pysk-tree-name'
      ) as HTMLElement
    ).click();
    (
      entry(browser, 'table', 'default.orders').querySelector(
        'button.pysk-tree-name'
      ) as HTMLElement
    ).click();
    expect(inserted).toEqual([
      [panel, '%%sql\nSELECT * FROM sales_2024 LIMIT 100'],
      [panel, '%%sql\nSELECT * FROM default.orders LIMIT 100']
    ]);
    // A DataFrame is no table: its name inserts nothing.
    expect(
      entry(browser, 'dataframe', 'df').querySelector('button.pysk-tree-name')
    ).toBeNull();
  });

  it('says when the notebook has no Spark kernel', async () => {
    const { browser, tracker } = await setup();
    tracker.show({ id: 'other' } as NotebookPanel);
    expect(
      browser.node.querySelector('.pysk-browser-state')!.textContent
    ).toMatch(/^no Spark kernel/);
    expect(
      (browser.node.querySelector('.pysk-browser-refresh') as HTMLButtonElement)
        .disabled
    ).toBe(true);
  });

  it('quotes names Spark SQL would not read plainly', () => {
    expect(quoteIdentifier('sales_2024')).toBe('sales_2024');
    expect(quoteIdentifier('my view')).toBe('`my view`');
    expect(quoteIdentifier('odd`name')).toBe('`odd``name`');
    expect(quoteIdentifier('2024')).toBe('`2024`');
    expect(selectCell('`my view`')).toBe(
      '%%sql\nSELECT * FROM `my view` LIMIT 100'
    );
  });
});
