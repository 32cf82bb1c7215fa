/**
 * The chart view of a table output, drawn through a stand-in for
 * JupyterLab's Vega-Lite renderer (the real one runs in
 * tests/browser/test_lab.py): where the points come from, what is saved
 * with the output and shown again without a kernel.
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';

import type { SparkChannel } from '../channel';
import { VEGALITE_MIME_TYPE } from '../chart';
import { EMBED_OPTIONS } from '../chartview';
import type { IRendererRegistry } from '../rendered';
import { LabSettings } from '../settings';
import { RenderedTable, tableRendererFactory } from '../table';
import { ITablePayload, TABLE_MIME_TYPE } from '../types';
import {
  channelFixtures,
  disposeAll,
  fixtures,
  renderWith,
  SavingModel
} from './helpers';
import { answer, FakeKernel, openChannel } from './kernel';

/**
 * A rendermime registry with a Vega-Lite renderer that records its models.
 */
class VegaRegistry implements IRendererRegistry {
  constructor(readonly hasVega = true) {}

  models: IRenderMime.IMimeModel[] = [];

  getFactory(mimeType: string): IRenderMime.IRendererFactory | undefined {
    return this.hasVega && mimeType === VEGALITE_MIME_TYPE
      ? ({
          mimeTypes: [VEGALITE_MIME_TYPE]
        } as unknown as IRenderMime.IRendererFactory)
      : undefined;
  }

  createRenderer(mimeType: string): IRenderMime.IRenderer {
    const models = this.models;
    const renderer = new (class extends Widget {
      async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
        models.push(model);
        this.node.textContent = 'chart';
      }
    })();
    renderer.addClass('fake-vega');
    return renderer as unknown as IRenderMime.IRenderer;
  }

  /**
   * The spec drawn last.
   */
  get spec(): any {
    const model = this.models[this.models.length - 1];
    return model?.data[VEGALITE_MIME_TYPE];
  }
}

const channels: SparkChannel[] = [];

afterEach(() => {
  disposeAll();
  while (channels.length) {
    channels.pop()!.dispose();
  }
});

/**
 * Sales by product: 5 rows of a result with more.
 */
function sales(truncated = true): ITablePayload {
  const payload = fixtures.tableBasic();
  payload.columns = [
    { name: 'product', type: 'string', nullable: true },
    { name: 'qty', type: 'bigint', nullable: true }
  ];
  payload.rows = [
    ['p1', 3],
    ['p2', 4],
    ['p1', 5],
    ['p3', 1],
    ['p7', 2]
  ];
  payload.truncated = truncated;
  payload.max_rows = 5;
  payload.result_id = '5f0c1d2e3a4b5c6d';
  return payload;
}

async function chartTable(
  model: SavingModel,
  options: { channel?: boolean; registry?: VegaRegistry } = {}
): Promise<{
  table: RenderedTable;
  kernel: FakeKernel | null;
  registry: VegaRegistry;
}> {
  const registry = options.registry ?? new VegaRegistry();
  let kernel: FakeKernel | null = null;
  let channel: SparkChannel | null = null;
  if (options.channel ?? true) {
    const open = await openChannel();
    kernel = open.kernel;
    channel = open.channel;
    channels.push(channel);
  }
  const settings = new LabSettings();
  settings.update({ chartGroups: 7 });
  const table = await renderWith<RenderedTable>(
    tableRendererFactory({ channel, settings, rendermime: registry }),
    model
  );
  model.onSet = () => void table.renderModel(model);
  return { table, kernel, registry };
}

function switchTo(table: RenderedTable, view: 'table' | 'chart'): void {
  (table.node.querySelector(`button.pysk-view-${view}`) as HTMLElement).click();
}

describe('chart view', () => {
  it('charts the rows of a preview that holds the whole result, here', async () => {
    const model = new SavingModel(TABLE_MIME_TYPE, sales(false), true);
    const { table, kernel, registry } = await chartTable(model);
    switchTo(table, 'chart');
    await Promise.resolve();
    expect(kernel!.comm.sent).toEqual([]);
    expect(table.node.dataset.view).toBe('chart');
    expect(
      (table.node.querySelector('.pysk-table-view') as HTMLElement).hidden
    ).toBe(true);
    const chart = table.node.querySelector('.pysk-chart') as HTMLElement;
    expect(chart.dataset.source).toBe('rows');
    expect(registry.spec.data.values).toEqual([
      { x: 'p1', value: 8 },
      { x: 'p2', value: 4 },
      { x: 'p3', value: 1 },
      { x: 'p7', value: 2 }
    ]);
    expect(registry.spec.encoding.x.sort).toEqual(['p1', 'p2', 'p7', 'p3']);
    expect(registry.models[0].metadata[VEGALITE_MIME_TYPE]).toEqual({
      embed_options: EMBED_OPTIONS
    });
    expect(chart.querySelector('.pysk-chart-caption')!.textContent).toBe(
      'computed over the 5 rows of the result'
    );
    // Another kind: drawn again and saved.
    const kind = chart.querySelector('.pysk-chart-kind') as HTMLSelectElement;
    kind.value = 'pie';
    kind.dispatchEvent(new Event('change'));
    await Promise.resolve();
    expect(registry.spec.mark.type).toBe('arc');
    expect(model.metadata[TABLE_MIME_TYPE].chart.data.kind).toBe('pie');
    // count needs no y.
    const agg = chart.querySelector('.pysk-chart-agg') as HTMLSelectElement;
    agg.value = 'count';
    agg.dispatchEvent(new Event('change'));
    await Promise.resolve();
    expect(
      (chart.querySelector('.pysk-chart-y') as HTMLSelectElement).disabled
    ).toBe(true);
    expect(model.metadata[TABLE_MIME_TYPE].chart.data).toMatchObject({
      agg: 'count',
      y: null
    });
    switchTo(table, 'table');
    expect(model.metadata[TABLE_MIME_TYPE].view).toBe('table');
    expect(model.metadata[TABLE_MIME_TYPE].chart.data.agg).toBe('count');
  });

  it('asks Spark for the points of a truncated preview, never its rows', async () => {
    const model = new SavingModel(TABLE_MIME_TYPE, sales(), true);
    const { table, kernel, registry } = await chartTable(model);
    switchTo(table, 'chart');
    const chart = table.node.querySelector('.pysk-chart') as HTMLElement;
    expect(chart.dataset.loading).toBe('true');
    expect(chart.querySelector('.pysk-chart-status')!.textContent).toMatch(
      /^Spark is aggregating/
    );
    expect(registry.models).toEqual([]);
    const request = await answer(kernel!, channelFixtures.chartReply());
    expect(request).toEqual({
      op: 'chart',
      id: request.id,
      result_id: '5f0c1d2e3a4b5c6d',
      kind: 'bar',
      x: 'product',
      y: 'qty',
      agg: 'sum',
      color: null,
      max_groups: 7
    });
    expect(chart.dataset.source).toBe('spark');
    expect(registry.spec.data.values).toEqual([
      { x: 'p7', value: 120 },
      { x: 'other', value: 4200 }
    ]);
    expect(chart.querySelector('.pysk-chart-caption')!.textContent).toBe(
      "computed by Spark over the whole result; 1 of 60 groups, the rest as 'other'"
    );
    expect(model.metadata[TABLE_MIME_TYPE]).toEqual({
      view: 'chart',
      chart: { source: 'spark', data: channelFixtures.chartReply().chart }
    });
  });

  it('shows a saved chart again without a kernel', async () => {
    const data = channelFixtures.chartReply().chart;
    const model = new SavingModel(TABLE_MIME_TYPE, sales(), false, {
      [TABLE_MIME_TYPE]: { view: 'chart', chart: { source: 'spark', data } }
    });
    const { table, registry } = await chartTable(model, { channel: false });
    await Promise.resolve();
    expect(table.node.dataset.view).toBe('chart');
    expect(registry.spec.data.values).toHaveLength(2);
    expect(
      table.node.querySelector('.pysk-chart-caption')!.textContent
    ).toMatch(/^computed by Spark over the whole result/);
    // Untrusted: the vega renderer is told so.
    expect(registry.models[0].trusted).toBe(false);
    expect(model.saved).toEqual([]);
  });

  it('says why a truncated preview cannot be charted', async () => {
    for (const [trusted, channel, why] of [
      [false, true, 'trust the notebook'],
      [true, false, 'no kernel']
    ] as const) {
      const model = new SavingModel(TABLE_MIME_TYPE, sales(), trusted);
      const { table, kernel, registry } = await chartTable(model, { channel });
      switchTo(table, 'chart');
      await Promise.resolve();
      const status = table.node.querySelector('.pysk-chart-status')!;
      expect(status.textContent).toContain(
        'this preview holds 5 rows of more: a chart of the whole result needs Spark'
      );
      expect(status.textContent).toContain(why);
      expect(registry.models).toEqual([]);
      if (kernel) {
        expect(kernel.comm.sent).toEqual([]);
      }
    }
  });

  it("needs JupyterLab's Vega-Lite renderer", async () => {
    const model = new SavingModel(TABLE_MIME_TYPE, sales(false), true);
    const { table } = await chartTable(model, {
      channel: false,
      registry: new VegaRegistry(false)
    });
    switchTo(table, 'chart');
    await Promise.resolve();
    expect(table.node.querySelector('.pysk-chart-status')!.textContent).toMatch(
      /Vega-Lite renderer/
    );
  });
});
