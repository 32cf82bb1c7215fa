import {
  aggregateRows,
  chartCaption,
  chartColumns,
  defaultChart,
  OTHER,
  readViewState,
  vegaLiteSpec
} from '../chart';
import { parseSparkType } from '../format';
import type { CellValue, IChartData, IColumn } from '../types';
import { channelFixtures, fixtures } from './helpers';

const COLUMNS: IColumn[] = [
  { name: 'product', type: 'string', nullable: true },
  { name: 'qty', type: 'bigint', nullable: true },
  { name: 'price', type: 'decimal(10,2)', nullable: true },
  { name: 'day', type: 'date', nullable: true },
  { name: 'tags', type: 'array<string>', nullable: true }
];

const ROWS: CellValue[][] = [
  ['a', 1, '1.50', '2024-01-02', []],
  ['b', 5, '2.00', '2024-01-01', []],
  ['a', 3, null, '2024-01-02', []],
  ['c', null, '0.25', '2024-01-03', []],
  [null, 2, '1.00', null, []]
];

function points(data: IChartData): { [x: string]: CellValue } {
  return Object.fromEntries(data.rows.map(r => [String(r.x), r.value]));
}

describe('chart columns', () => {
  it('groups by simple columns and sums numeric ones', () => {
    expect(chartColumns(COLUMNS)).toEqual({
      x: ['product', 'qty', 'price', 'day'],
      y: ['qty', 'price']
    });
    expect(defaultChart(COLUMNS)).toEqual({
      kind: 'bar',
      x: 'product',
      y: 'qty',
      agg: 'sum',
      color: null
    });
  });

  it('counts when nothing is numeric, and charts nothing without a group', () => {
    const strings: IColumn[] = [{ name: 's', type: 'string', nullable: true }];
    expect(defaultChart(strings)).toEqual({
      kind: 'bar',
      x: 's',
      y: null,
      agg: 'count',
      color: null
    });
    const nested: IColumn[] = [
      { name: 'm', type: 'map<string,int>', nullable: true }
    ];
    expect(defaultChart(nested)).toBeNull();
    expect(defaultChart(fixtures.tableBasic().columns)!.x).toBe('name');
  });
});

describe('aggregateRows', () => {
  const chart = (
    settings: Partial<Parameters<typeof aggregateRows>[2]>,
    maxGroups = 50
  ) =>
    aggregateRows(
      COLUMNS,
      ROWS,
      {
        kind: 'bar',
        x: 'product',
        y: 'qty',
        agg: 'sum',
        color: null,
        ...settings
      },
      maxGroups
    );

  it('aggregates as Spark does: nulls skipped, count counts rows', () => {
    expect(points(chart({}))).toEqual({ a: 4, b: 5, c: null, null: 2 });
    expect(points(chart({ agg: 'count', y: null }))).toEqual({
      a: 2,
      b: 1,
      c: 1,
      null: 1
    });
    expect(points(chart({ agg: 'avg', y: 'price' }))).toEqual({
      a: 1.5,
      b: 2,
      c: 0.25,
      null: 1
    });
    expect(points(chart({ agg: 'max' }))).toEqual({
      a: 3,
      b: 5,
      c: null,
      null: 2
    });
    expect(points(chart({ agg: 'min', y: 'price' }))).toEqual({
      a: 1.5,
      b: 2,
      c: 0.25,
      null: 1
    });
    const data = chart({});
    expect(data).toMatchObject({
      groups: 4,
      shown_groups: 4,
      other: false,
      computed_over: 'whole result'
    });
  });

  it('keeps the largest groups of a bar chart and sums the rest as other', () => {
    const data = chart({}, 2);
    expect(data.groups).toBe(4);
    expect(data.shown_groups).toBe(2);
    expect(data.other).toBe(true);
    expect(points(data)).toEqual({ b: 5, a: 4, [OTHER]: 2 });
  });

  it('keeps the first x values of a line chart, in order', () => {
    const data = chart({ kind: 'line', x: 'day' }, 2);
    expect(data.other).toBe(false);
    expect(data.rows.map(r => r.x)).toEqual([null, '2024-01-01']);
  });

  it('splits groups by a colour column', () => {
    const data = chart({ color: 'day' });
    expect(data.rows).toContainEqual({ x: 'a', value: 4, color: '2024-01-02' });
    expect(data.rows.every(r => 'color' in r)).toBe(true);
    // The same column as x and colour is no colour.
    expect(chart({ color: 'product' }).color).toBeNull();
  });
});

describe('vegaLiteSpec', () => {
  it('draws the kernel reply as bars, largest first and other last', () => {
    const data = channelFixtures.chartReply().chart;
    const spec = vegaLiteSpec(data, parseSparkType('string'), 500) as any;
    expect(spec.$schema).toMatch(/vega-lite\/v5/);
    expect(spec.mark.type).toBe('bar');
    expect(spec.encoding.x).toMatchObject({
      field: 'x',
      type: 'nominal',
      title: 'product',
      sort: ['p7', OTHER]
    });
    expect(spec.encoding.y).toMatchObject({ title: 'sum(qty)' });
    expect(spec.data.values).toEqual([
      { x: 'p7', value: 120 },
      { x: OTHER, value: 4200 }
    ]);
    expect(spec.width).toBe(500);
  });

  it('uses a number axis for numbers and a time axis for dates on lines', () => {
    const base = channelFixtures.chartReply().chart;
    const numbers: IChartData = {
      ...base,
      kind: 'line',
      other: false,
      rows: [
        { x: 1, value: '2.50' },
        { x: 2, value: null }
      ]
    };
    const spec = vegaLiteSpec(numbers, parseSparkType('bigint'), 400) as any;
    expect(spec.encoding.x.type).toBe('quantitative');
    expect(spec.mark).toMatchObject({ type: 'line', point: true });
    // Decimals come as text: the chart gets numbers.
    expect(spec.data.values).toEqual([
      { x: 1, value: 2.5 },
      { x: 2, value: null }
    ]);
    const dates = {
      ...numbers,
      kind: 'area' as const,
      rows: [{ x: '2024-01-01', value: 1 }]
    };
    expect(
      (vegaLiteSpec(dates, parseSparkType('date'), 400) as any).encoding.x.type
    ).toBe('temporal');
    // With no column type (a chart saved in the notebook), the kernel's x_type.
    expect(
      (vegaLiteSpec({ ...dates, x_type: 'date' }, null, 400) as any).encoding.x
        .type
    ).toBe('temporal');
    expect((vegaLiteSpec(dates, null, 400) as any).encoding.x.type).toBe(
      'nominal'
    );
    const scatter = { ...numbers, kind: 'scatter' as const };
    expect((vegaLiteSpec(scatter, null, 400) as any).mark.type).toBe('point');
  });

  it('draws a pie as arcs coloured by x, and a colour column as colour', () => {
    const base = channelFixtures.chartReply().chart;
    const pie = vegaLiteSpec({ ...base, kind: 'pie' }, null, 800) as any;
    expect(pie.mark.type).toBe('arc');
    expect(pie.encoding.theta).toMatchObject({ field: 'value' });
    expect(pie.encoding.color).toMatchObject({
      field: 'x',
      sort: ['p7', OTHER]
    });
    expect(pie.width).toBe(320);
    const coloured = vegaLiteSpec(
      {
        ...base,
        color: 'region',
        rows: [{ x: 'p1', value: 3, color: 'north' }]
      },
      null,
      400
    ) as any;
    expect(coloured.encoding.color).toMatchObject({
      field: 'color',
      title: 'region'
    });
    expect(coloured.data.values).toEqual([
      { x: 'p1', value: 3, color: 'north' }
    ]);
  });
});

describe('what a chart was computed over', () => {
  it("says Spark's groups and the rest", () => {
    const data = channelFixtures.chartReply().chart;
    expect(chartCaption({ data, source: 'spark' })).toBe(
      "computed by Spark over the whole result; 1 of 60 groups, the rest as 'other'"
    );
    expect(
      chartCaption({ data: { ...data, other: false }, source: 'spark' })
    ).toBe(
      'computed by Spark over the whole result; 1 of 60 groups, the rest left out'
    );
    expect(
      chartCaption(
        { data: { ...data, groups: 1, shown_groups: 1 }, source: 'rows' },
        7
      )
    ).toBe('computed over the 7 rows of the result');
  });
});

describe('readViewState', () => {
  it('reads a saved chart and refuses anything else', () => {
    const data = channelFixtures.chartReply().chart;
    const state = { view: 'chart', chart: { data, source: 'spark' } };
    expect(readViewState(JSON.parse(JSON.stringify(state)))).toEqual(state);
    expect(readViewState({ view: 'table', chart: null })).toEqual({
      view: 'table',
      chart: null
    });
    expect(readViewState({ view: 'pie' })).toBeNull();
    expect(readViewState(null)).toBeNull();
    expect(
      readViewState({
        view: 'chart',
        chart: { data: { ...data, kind: 'radar' }, source: 'spark' }
      })
    ).toEqual({ view: 'chart', chart: null });
    expect(
      readViewState({ view: 'chart', chart: { data, source: 'guess' } })!.chart
    ).toBeNull();
  });
});
