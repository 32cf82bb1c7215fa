/**
 * The table over the whole result: pages, sorts and filters from Spark, the
 * third sort state, filters on saved rows, profile and download; and what
 * stays within the saved rows (untrusted, no kernel, old outputs, expired).
 */
import type { SparkChannel } from '../channel';
import { LabSettings } from '../settings';
import { RenderedTable, tableRendererFactory } from '../table';
import type { CellValue, ITablePayload } from '../types';
import { TABLE_MIME_TYPE } from '../types';
import {
  channelFixtures,
  disposeAll,
  fixtures,
  render,
  SavingModel,
  renderWith,
  texts
} from './helpers';
import { answer, FakeKernel, flush, openChannel } from './kernel';

const channels: SparkChannel[] = [];

afterEach(() => {
  disposeAll();
  while (channels.length) {
    channels.pop()!.dispose();
  }
});

/**
 * A truncated preview of `spark.range(1000)`: 100 saved rows of `id`.
 */
function bigPreview(resultId: string | null = 'r-big'): ITablePayload {
  const payload = fixtures.tableBasic();
  payload.columns = [{ name: 'id', type: 'bigint', nullable: false }];
  payload.rows = Array.from({ length: 100 }, (_, i): CellValue[] => [i]);
  payload.truncated = true;
  payload.max_rows = 100;
  payload.result_id = resultId;
  return payload;
}

async function table(
  payload: ITablePayload,
  { trusted = true, channel = true } = {}
): Promise<{ table: RenderedTable; kernel: FakeKernel | null }> {
  let kernel: FakeKernel | null = null;
  let opened: SparkChannel | null = null;
  if (channel) {
    const open = await openChannel();
    kernel = open.kernel;
    opened = open.channel;
    channels.push(opened);
  }
  const settings = new LabSettings();
  settings.update({ pageSize: 50 });
  const rendered = await render<RenderedTable>(
    tableRendererFactory({ channel: opened, settings }),
    payload,
    { trusted }
  );
  return { table: rendered, kernel };
}

function firstColumn(t: RenderedTable): string[] {
  return texts(t.node.querySelectorAll('tbody tr td:first-child'));
}

function readText(blob: Blob): Promise<string> {
  return new Promise(resolve => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.readAsText(blob);
  });
}

function sent(kernel: FakeKernel): { [key: string]: any }[] {
  return kernel.comm.sent;
}

function pageReply(
  offset: number,
  ids: number[],
  hasMore = true
): { [key: string]: unknown } {
  return {
    ...channelFixtures.pageReply(),
    offset,
    limit: 50,
    rows: ids.map(i => [i]),
    has_more: hasMore
  };
}

describe('sorting cycles through three states (issue 16, point 11)', () => {
  it('goes ascending, descending, then back to the original order', async () => {
    const { table: t } = await table(fixtures.tableBasic(), { channel: false });
    const th = t.node.querySelectorAll('th')[1] as HTMLElement;
    const names = () => texts(t.node.querySelectorAll('tbody td:nth-child(2)'));
    expect(names()).toEqual(['apple', '""', 'null']);
    th.click();
    expect(th.getAttribute('aria-sort')).toBe('ascending');
    expect(names()).toEqual(['""', 'apple', 'null']);
    th.click();
    expect(th.getAttribute('aria-sort')).toBe('descending');
    expect(th.querySelector('.pysk-sort-indicator')!.textContent).toBe(
      ' \u25bc'
    );
    th.click();
    expect(th.getAttribute('aria-sort')).toBe('none');
    expect(th.querySelector('.pysk-sort-indicator')!.textContent).toBe('');
    expect(th.classList.contains('pysk-sorted')).toBe(false);
    expect(names()).toEqual(['apple', '""', 'null']);
    // Another column starts again at ascending.
    th.click();
    (t.node.querySelectorAll('th')[0] as HTMLElement).click();
    expect(th.getAttribute('aria-sort')).toBe('none');
    expect(t.node.querySelectorAll('th')[0].getAttribute('aria-sort')).toBe(
      'ascending'
    );
  });
});

describe('the whole result through the page op', () => {
  it('shows the saved rows first without asking, then pages past them in Spark', async () => {
    const { table: t, kernel } = await table(bigPreview());
    expect(sent(kernel!)).toEqual([]);
    expect(firstColumn(t)[0]).toBe('0');
    const label = () => t.node.querySelector('.pysk-page-label')!.textContent;
    expect(label()).toBe('rows 1\u201350 \u00b7 page 1');
    const next = t.node.querySelector('button.pysk-next') as HTMLButtonElement;
    next.click();
    expect(sent(kernel!)).toEqual([]);
    expect(firstColumn(t)[0]).toBe('50');
    next.click();
    expect(t.node.dataset.loading).toBe('true');
    const request = await answer(kernel!, pageReply(100, [100, 101, 102]));
    expect(request).toMatchObject({
      op: 'page',
      result_id: 'r-big',
      offset: 100,
      limit: 50,
      sort: [],
      filter: []
    });
    expect(t.node.dataset.loading).toBeUndefined();
    expect(t.node.dataset.origin).toBe('spark');
    expect(firstColumn(t)).toEqual(['100', '101', '102']);
    expect(label()).toBe('rows 101\u2013103 \u00b7 page 3');
    expect(t.node.querySelector('.pysk-origin')!.textContent).toBe(
      'from Spark: the whole result'
    );
    // Copy takes the page shown.
    expect(t.delimitedText(',')).toBe('id\r\n100\r\n101\r\n102\r\n');
    (t.node.querySelector('button.pysk-prev') as HTMLButtonElement).click();
    expect(firstColumn(t)[0]).toBe('50');
    expect(sent(kernel!)).toHaveLength(1);
  });

  it('sorts and filters in Spark, and goes back to the saved order', async () => {
    const { table: t, kernel } = await table(bigPreview());
    const th = t.node.querySelector('th') as HTMLElement;
    th.click();
    th.click();
    const request = await answer(kernel!, pageReply(0, [999, 998]));
    // Only the last click's page is shown.
    expect(sent(kernel!).map(r => r.sort)).toEqual([
      [{ column: 'id', descending: false }],
      [{ column: 'id', descending: true }]
    ]);
    expect(request.sort).toEqual([{ column: 'id', descending: true }]);
    expect(firstColumn(t)).toEqual(['999', '998']);
    expect(t.node.querySelector('.pysk-origin')!.textContent).toBe(
      'sorted by Spark over the whole result'
    );
    th.click();
    expect(th.getAttribute('aria-sort')).toBe('none');
    expect(firstColumn(t)[0]).toBe('0');
    expect(sent(kernel!)).toHaveLength(2);

    // A filter from the filter bar.
    (t.node.querySelector('button.pysk-filter-toggle') as HTMLElement).click();
    const bar = t.node.querySelector('.pysk-filters') as HTMLElement;
    expect(bar.hidden).toBe(false);
    (bar.querySelector('.pysk-filter-op') as HTMLSelectElement).value = 'ge';
    (bar.querySelector('.pysk-filter-value') as HTMLInputElement).value = '10';
    (bar.querySelector('.pysk-filter-add') as HTMLElement).click();
    const filtered = await answer(kernel!, pageReply(0, [10, 11], false));
    expect(filtered.filter).toEqual([{ column: 'id', op: 'ge', value: 10 }]);
    expect(filtered.filter).toEqual(channelFixtures.pageRequest().filter);
    expect(firstColumn(t)).toEqual(['10', '11']);
    expect(t.node.querySelector('.pysk-chip')!.textContent).toBe(
      'id \u2265 10\u00d7'
    );
    expect(t.node.querySelector('.pysk-page-label')!.textContent).toBe(
      'rows 1\u20132 of 2 \u00b7 page 1/1'
    );
    (t.node.querySelector('.pysk-chip-remove') as HTMLElement).click();
    expect(t.filters).toEqual([]);
    expect(firstColumn(t)[0]).toBe('0');
  });

  it('says clearly when the result has expired, and shows the saved rows', async () => {
    const { table: t, kernel } = await table(bigPreview());
    (t.node.querySelector('th') as HTMLElement).click();
    const error =
      "result 'r-big' has expired: this kernel keeps its last 32 results (run the cell again to get it back)";
    await answer(kernel!, { op: 'page', ok: false, error });
    const shown = t.node.querySelector('.pysk-table-error') as HTMLElement;
    expect(shown.hidden).toBe(false);
    expect(shown.textContent).toBe(error);
    // Sorted over the saved rows now, saying so; no more requests.
    expect(firstColumn(t)[0]).toBe('0');
    expect(t.node.querySelector('.pysk-origin')!.textContent).toBe(
      'the 100 saved rows only: the whole result has expired (run the cell again)'
    );
    (t.node.querySelector('th') as HTMLElement).click();
    expect(firstColumn(t)[0]).toBe('99');
    expect(sent(kernel!)).toHaveLength(1);
  });

  it('stays within the saved rows for untrusted outputs, old outputs and without a kernel', async () => {
    const cases: [ITablePayload, boolean, boolean, string][] = [
      [bigPreview(), false, true, 'trust the notebook'],
      [bigPreview(null), true, true, 'no result id'],
      [bigPreview(), true, false, 'no kernel']
    ];
    for (const [payload, trusted, channel, why] of cases) {
      const { table: t, kernel } = await table(payload, { trusted, channel });
      const th = t.node.querySelector('th') as HTMLElement;
      th.click();
      th.click();
      expect(firstColumn(t)[0]).toBe('99');
      expect(t.node.querySelector('.pysk-origin')!.textContent).toContain(why);
      expect(t.node.querySelector('.pysk-profile-button')).toBeNull();
      expect(t.node.querySelector('.pysk-download')).toBeNull();
      if (kernel) {
        expect(sent(kernel)).toEqual([]);
      }
    }
  });

  it('filters saved rows here when the preview is the whole result', async () => {
    const { table: t, kernel } = await table(fixtures.tableBasic());
    t.addFilter({ column: 'name', op: 'contains', value: 'PP' });
    expect(firstColumn(t)).toEqual(['1']);
    t.removeFilter(0);
    t.addFilter({ column: 'price', op: 'lt', value: 1 });
    expect(firstColumn(t)).toEqual(['2']);
    t.removeFilter(0);
    t.addFilter({ column: 'name', op: 'is_null' });
    expect(firstColumn(t)).toEqual(['3']);
    expect(t.delimitedText(',')).toBe('id,name,price\r\n3,,\r\n');
    expect(sent(kernel!)).toEqual([]);
  });
});

describe('profile', () => {
  it('shows the profile of every column in the header, from Spark', async () => {
    const payload = fixtures.tableBasic();
    payload.columns = [
      { name: 'qty', type: 'bigint', nullable: true },
      { name: 'product', type: 'string', nullable: true }
    ];
    payload.rows = [[1, 'p0']];
    payload.result_id = '5f0c1d2e3a4b5c6d';
    const { table: t, kernel } = await table(payload);
    const button = t.node.querySelector(
      '.pysk-profile-button'
    ) as HTMLButtonElement;
    const done = t.profile();
    expect(button.disabled).toBe(true);
    const request = await answer(kernel!, channelFixtures.profileReply());
    await done;
    expect(request).toMatchObject({
      op: 'profile',
      result_id: '5f0c1d2e3a4b5c6d'
    });
    const [qty, product] = Array.from(t.node.querySelectorAll('th'));
    expect(qty.querySelector('.pysk-profile-counts')!.textContent).toBe(
      'null 0% \u00b7 ~13 distinct'
    );
    expect(qty.querySelector('.pysk-profile-range')!.textContent).toBe(
      'min 0 \u00b7 max 12 \u00b7 mean 5.99'
    );
    expect(qty.querySelectorAll('.pysk-histogram rect')).toHaveLength(1);
    expect(texts(product.querySelectorAll('.pysk-profile-top li'))).toEqual([
      'p017'
    ]);
    expect(button.textContent).toBe('Hide profile');
    // A click in the profile does not sort.
    (qty.querySelector('.pysk-profile') as HTMLElement).click();
    expect(qty.getAttribute('aria-sort')).toBe('none');
    await t.profile();
    expect(t.node.querySelector('.pysk-profile')).toBeNull();
  });
});

describe('download', () => {
  it('assembles the chunks of an export into one file', async () => {
    const created: Blob[] = [];
    const clicked: string[] = [];
    (URL as any).createObjectURL = (blob: Blob) => {
      created.push(blob);
      return 'blob:test';
    };
    (URL as any).revokeObjectURL = () => undefined;
    const click = jest
      .spyOn(HTMLAnchorElement.prototype, 'click')
      .mockImplementation(function (this: HTMLAnchorElement) {
        clicked.push(this.download);
      });
    try {
      const { table: t, kernel } = await table(bigPreview());
      const select = t.node.querySelector(
        'select.pysk-download'
      ) as HTMLSelectElement;
      select.value = 'csv';
      select.dispatchEvent(new Event('change'));
      await flush();
      const request = kernel!.comm.last;
      expect(request).toMatchObject({
        op: 'export',
        result_id: 'r-big',
        format: 'csv'
      });
      expect(select.disabled).toBe(true);
      const text = 'id\n0\n1\n';
      const bytes = Uint8Array.from(text, c => c.charCodeAt(0));
      const chunk = channelFixtures.exportChunk();
      // The second chunk first: they are put in order.
      kernel!.comm.receiveWith(
        { ...chunk, id: request.id, chunk: 1, chunks: 2, size: bytes.length },
        [new DataView(bytes.buffer, 4)]
      );
      expect(t.node.querySelector('.pysk-download-status')!.textContent).toBe(
        `receiving 3 B of ${bytes.length} B`
      );
      kernel!.comm.receiveWith(
        { ...chunk, id: request.id, chunk: 0, chunks: 2, size: bytes.length },
        [new DataView(bytes.buffer, 0, 4)]
      );
      await answer(kernel!, {
        ...channelFixtures.exportReply(),
        file_name: 'big.csv',
        size: bytes.length,
        chunks: 2
      });
      await flush();
      expect(clicked).toEqual(['big.csv']);
      expect(await readText(created[0])).toBe(text);
      expect(created[0].type).toBe('text/csv');
      expect(select.disabled).toBe(false);
      expect(t.node.querySelector('.pysk-download-status')!.textContent).toBe(
        `downloaded big.csv (${bytes.length} B)`
      );
    } finally {
      click.mockRestore();
    }
  });

  it('shows why an export was refused', async () => {
    const { table: t, kernel } = await table(bigPreview());
    const done = t.download('parquet');
    await answer(kernel!, {
      op: 'export',
      ok: false,
      error:
        'the result is 9 bytes as parquet, over the export limit of 1 bytes'
    });
    await done;
    expect(t.node.querySelector('.pysk-table-error')!.textContent).toMatch(
      /over the export limit/
    );
  });
});

describe('the view state saved with the output', () => {
  it('is read from the metadata and written with setData', async () => {
    const model = new SavingModel(TABLE_MIME_TYPE, fixtures.tableBasic(), true);
    const t = await renderWith<RenderedTable>(tableRendererFactory(), model);
    const rebuilt = jest.fn();
    model.onSet = () => {
      rebuilt();
      void t.renderModel(model);
    };
    const tbody = t.node.querySelector('tbody');
    t.showView('table');
    expect(model.saved).toEqual([]);
    t.showView('chart');
    // One save: the chart drawn (from the rows: they are the whole result).
    expect(model.saved).toHaveLength(1);
    expect(model.metadata[TABLE_MIME_TYPE]).toMatchObject({
      view: 'chart',
      chart: { source: 'rows', data: { kind: 'bar', x: 'name', y: 'id' } }
    });
    // The renderer got its own model back: nothing was rebuilt.
    expect(t.node.querySelector('tbody')).toBe(tbody);
    expect(rebuilt).toHaveBeenCalled();
  });
});

describe('a preview the kernel deferred', () => {
  function deferred(): ITablePayload {
    const payload = fixtures.tableBasic();
    payload.columns = [{ name: 'id', type: 'bigint', nullable: false }];
    payload.rows = [];
    payload.result_id = 'r-slow';
    payload.variable_name = 'slow';
    payload.deferred = 'plan';
    return payload;
  }

  it('says why it shows the schema only and fetches the rows when asked', async () => {
    const open = await openChannel();
    channels.push(open.channel);
    const model = new SavingModel(TABLE_MIME_TYPE, deferred(), true);
    const t = await renderWith<RenderedTable>(
      tableRendererFactory({ channel: open.channel }),
      model
    );
    expect(t.node.querySelector('.pysk-notice')!.textContent).toBe(
      'schema only: its plan needs a pass over all its input'
    );
    const preview = t.node.querySelector<HTMLButtonElement>(
      '.pysk-preview-button'
    )!;
    preview.click();
    const reply = channelFixtures.previewReply();
    const request = await answer(open.kernel, reply);
    expect(request).toMatchObject({
      op: 'preview',
      result_id: 'r-slow',
      max_rows: 100
    });
    await flush();
    // The rows replace the schema in the output, saved with the notebook.
    expect(model.data[TABLE_MIME_TYPE]).toEqual(reply.table);
    expect(firstColumn(t)).toEqual(['0', '1']);
    expect(t.node.querySelector('.pysk-preview-button')).toBeNull();
    expect(t.payload!.result_id).toBe('8e2d4c6a0b1f3e5d');
  });

  it('offers no action untrusted or without a kernel, and says why', async () => {
    for (const options of [{ trusted: false }, { channel: false }]) {
      const { table: t } = await table(deferred(), options);
      expect(t.node.querySelector('.pysk-preview-button')).toBeNull();
      expect(t.node.querySelector('.pysk-notice')!.textContent).toContain(
        'schema only'
      );
    }
  });
});
