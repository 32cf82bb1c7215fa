/**
 * Charts of a result, as pure functions: which columns a chart can use, the
 * aggregation of rows that hold the whole result (the same rules as the
 * kernel's `chart` op), the Vega-Lite spec of a chart's points, and what a
 * chart was computed over. No DOM here (`chartview.ts` shows charts).
 */
import {
  formatValue,
  isNumericType,
  numericKey,
  parseSparkType,
  plural,
  SparkType
} from './format';
import {
  CellValue,
  CHART_AGGS,
  CHART_KINDS,
  ChartAgg,
  IChartData,
  IChartPoint,
  IChartSettings,
  IColumn,
  ISavedChart,
  ITableViewState
} from './types';

/**
 * Mime type of the Vega-Lite specs given to JupyterLab's Vega renderer.
 */
export const VEGALITE_MIME_TYPE = 'application/vnd.vegalite.v5+json';

/**
 * Name of the group holding the x values past the shown ones.
 */
export const OTHER = 'other';

/**
 * Types a chart can group by or colour by: atomic ones but binary.
 */
function groupable(type: SparkType): boolean {
  return type.kind === 'atomic' && type.name !== 'binary';
}

/**
 * The columns a chart of `columns` can use for x and colour (groupable) and
 * for y (numeric).
 */
export function chartColumns(columns: IColumn[]): {
  x: string[];
  y: string[];
} {
  const typed = columns.map(c => ({
    name: c.name,
    type: parseSparkType(c.type)
  }));
  return {
    x: typed.filter(c => groupable(c.type)).map(c => c.name),
    y: typed.filter(c => isNumericType(c.type)).map(c => c.name)
  };
}

/**
 * A first chart for a result: bars of the first numeric column summed per
 * the first other groupable column (a count when there is no numeric one);
 * `null` when nothing can be grouped.
 */
export function defaultChart(columns: IColumn[]): IChartSettings | null {
  const { x, y } = chartColumns(columns);
  if (x.length === 0) {
    return null;
  }
  const xName = x.find(name => !y.includes(name)) ?? x[0];
  const yName = y.find(name => name !== xName) ?? null;
  return {
    kind: 'bar',
    x: xName,
    y: yName,
    agg: yName ? 'sum' : 'count',
    color: null
  };
}

/**
 * Settings made consistent: `count` needs no y, the others need one.
 */
export function normalizeSettings(settings: IChartSettings): IChartSettings {
  const agg: ChartAgg = settings.y === null ? 'count' : settings.agg;
  return {
    ...settings,
    agg,
    y: agg === 'count' ? null : settings.y,
    color: settings.color === settings.x ? null : settings.color
  };
}

/**
 * A grouping key for a JSON value.
 */
function key(value: CellValue | undefined): string {
  return JSON.stringify(value ?? null);
}

/**
 * Aggregate a list of values as Spark does: `count` counts rows, the others
 * skip nulls and give `null` for none.
 */
function aggregate(
  agg: ChartAgg,
  values: (CellValue | undefined)[]
): number | null {
  if (agg === 'count') {
    return values.length;
  }
  const numbers = values
    .map(v => (v === null || v === undefined ? null : numericKey(v)))
    .filter((v): v is number => v !== null);
  if (numbers.length === 0) {
    return null;
  }
  switch (agg) {
    case 'sum':
      return numbers.reduce((a, b) => a + b, 0);
    case 'avg':
      return numbers.reduce((a, b) => a + b, 0) / numbers.length;
    case 'min':
      return Math.min(...numbers);
    case 'max':
      return Math.max(...numbers);
  }
}

/**
 * Order of two x values: nulls first, numbers before text, then by value.
 */
function compareX(a: CellValue, b: CellValue): number {
  if (a === null || b === null) {
    return a === b ? 0 : a === null ? -1 : 1;
  }
  if (typeof a === 'number' && typeof b === 'number') {
    return a - b;
  }
  if (typeof a === 'number' || typeof b === 'number') {
    return typeof a === 'number' ? -1 : 1;
  }
  const sa = typeof a === 'string' ? a : JSON.stringify(a);
  const sb = typeof b === 'string' ? b : JSON.stringify(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/**
 * The points of a chart over `rows`, when they are the whole result: the
 * same rules as the kernel's `chart` op. At most `maxGroups` x values: for
 * bar and pie charts the largest, the rest summed up as `other`; for line,
 * area and scatter charts the first in x order.
 */
export function aggregateRows(
  columns: IColumn[],
  rows: ReadonlyArray<ReadonlyArray<CellValue>>,
  settings: IChartSettings,
  maxGroups: number
): IChartData {
  const s = normalizeSettings(settings);
  const xi = columns.findIndex(c => c.name === s.x);
  const yi = s.y === null ? -1 : columns.findIndex(c => c.name === s.y);
  const ci = s.color === null ? -1 : columns.findIndex(c => c.name === s.color);
  const byX = new Map<
    string,
    { x: CellValue; ys: (CellValue | undefined)[] }
  >();
  for (const row of rows) {
    const x = row[xi] ?? null;
    const group = byX.get(key(x)) ?? { x, ys: [] };
    group.ys.push(yi >= 0 ? row[yi] : null);
    byX.set(key(x), group);
  }
  const totals = Array.from(byX.values()).map(g => ({
    x: g.x,
    value: aggregate(s.agg, g.ys)
  }));
  const ranked = s.kind === 'bar' || s.kind === 'pie';
  totals.sort((a, b) => {
    if (ranked) {
      const va = a.value === null ? -1 : Math.abs(a.value);
      const vb = b.value === null ? -1 : Math.abs(b.value);
      if (va !== vb) {
        return vb - va;
      }
    }
    return compareX(a.x, b.x);
  });
  const groups = totals.length;
  const truncated = groups > maxGroups;
  const keep = new Set(totals.slice(0, maxGroups).map(t => key(t.x)));
  const withOther = truncated && ranked;
  const points = new Map<
    string,
    { x: CellValue; color: CellValue; ys: (CellValue | undefined)[] }
  >();
  for (const row of rows) {
    const rawX = row[xi] ?? null;
    let x: CellValue = rawX;
    if (!keep.has(key(rawX))) {
      if (!withOther) {
        continue;
      }
      x = OTHER;
    } else if (withOther && rawX !== null) {
      // The kernel names groups as text when it adds `other`.
      x = typeof rawX === 'string' ? rawX : formatValue(rawX);
    }
    const color = ci >= 0 ? (row[ci] ?? null) : null;
    const k = `${key(x)}|${key(color)}`;
    const point = points.get(k) ?? { x, color, ys: [] };
    point.ys.push(yi >= 0 ? row[yi] : null);
    points.set(k, point);
  }
  const out: IChartPoint[] = Array.from(points.values()).map(p => {
    const point: IChartPoint = { x: p.x, value: aggregate(s.agg, p.ys) };
    if (ci >= 0) {
      point.color = p.color;
    }
    return point;
  });
  if (!ranked) {
    out.sort((a, b) => compareX(a.x, b.x));
  }
  return {
    ...s,
    rows: out,
    groups,
    shown_groups: Math.min(groups, maxGroups),
    other: withOther,
    computed_over: 'whole result'
  };
}

/**
 * What a chart was computed over, in words.
 */
export function chartCaption(saved: ISavedChart, rowCount?: number): string {
  const d = saved.data;
  let text =
    saved.source === 'spark'
      ? `computed by Spark over the ${d.computed_over}`
      : rowCount !== undefined
        ? `computed over the ${plural(rowCount, 'row')} of the result`
        : 'computed over the rows of the result';
  if (d.groups > d.shown_groups) {
    const rest = d.other ? `the rest as '${OTHER}'` : 'the rest left out';
    text += `; ${d.shown_groups} of ${plural(d.groups, 'group')}, ${rest}`;
  }
  return text;
}

/**
 * A number for a chart value (decimals come as text), `null` if none.
 */
function toNumber(value: CellValue | undefined): number | null {
  if (value === null || value === undefined) {
    return null;
  }
  const n = numericKey(value);
  return n === null || !Number.isFinite(n) ? null : n;
}

/**
 * A label for an x or colour value.
 */
function label(value: CellValue | undefined, type?: SparkType): string {
  if (typeof value === 'string') {
    return value;
  }
  return formatValue(value ?? null, type);
}

/**
 * The Vega-Lite spec of a chart's points.
 *
 * @param xType - the Spark type of the x column, if known (else the data's
 *   `x_type`): numbers and dates make a quantitative or temporal axis for
 *   line, area and scatter.
 * @param width - the plot's width in pixels.
 */
export function vegaLiteSpec(
  data: IChartData,
  columnType: SparkType | null,
  width: number
): { [key: string]: unknown } {
  const kind = data.kind;
  const xType =
    columnType ?? (data.x_type ? parseSparkType(data.x_type) : null);
  const continuous = kind === 'line' || kind === 'area' || kind === 'scatter';
  const numericX =
    continuous && data.rows.every(r => r.x === null || typeof r.x === 'number');
  const temporalX =
    continuous &&
    xType !== null &&
    xType.kind === 'atomic' &&
    /^(date|timestamp)/.test(xType.name);
  const xEncoding = numericX
    ? 'quantitative'
    : temporalX
      ? 'temporal'
      : 'nominal';
  const values = data.rows.map(r => {
    const point: { [key: string]: unknown } = {
      x: xEncoding === 'nominal' ? label(r.x, xType ?? undefined) : r.x,
      value: toNumber(r.value)
    };
    if (data.color !== null) {
      point.color = label(r.color);
    }
    return point;
  });
  const yTitle = data.agg === 'count' ? 'count' : `${data.agg}(${data.y})`;
  // Bars and slices largest first, `other` last.
  const totals = new Map<string, number>();
  for (const v of values) {
    const x = String(v.x);
    totals.set(x, (totals.get(x) ?? 0) + Math.abs((v.value as number) ?? 0));
  }
  const order = Array.from(totals.keys()).sort((a, b) => {
    if (data.other && (a === OTHER) !== (b === OTHER)) {
      return a === OTHER ? 1 : -1;
    }
    const byTotal = totals.get(b)! - totals.get(a)!;
    return byTotal !== 0
      ? byTotal
      : a.localeCompare(b, undefined, { numeric: true });
  });
  const encoding: { [key: string]: unknown } = {};
  let mark: { [key: string]: unknown };
  if (kind === 'pie') {
    mark = { type: 'arc', tooltip: true };
    encoding.theta = {
      field: 'value',
      type: 'quantitative',
      title: yTitle,
      stack: true
    };
    encoding.color = {
      field: 'x',
      type: 'nominal',
      title: data.x,
      sort: order
    };
    encoding.order = {
      field: 'value',
      type: 'quantitative',
      sort: 'descending'
    };
  } else {
    mark = {
      type: kind === 'scatter' ? 'point' : kind,
      tooltip: true,
      ...(kind === 'line' ? { point: true } : {})
    };
    encoding.x = {
      field: 'x',
      type: xEncoding,
      title: data.x,
      ...(xEncoding === 'nominal'
        ? { sort: kind === 'bar' ? order : null }
        : {})
    };
    encoding.y = { field: 'value', type: 'quantitative', title: yTitle };
    if (data.color !== null) {
      encoding.color = { field: 'color', type: 'nominal', title: data.color };
    }
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    data: { values },
    mark,
    encoding,
    width: kind === 'pie' ? Math.min(width, 320) : width,
    height: kind === 'pie' ? Math.min(width, 320) : 260
  };
}

/**
 * The view state saved in a table output's metadata, checked; `null` when
 * there is none or it cannot be read.
 */
export function readViewState(value: unknown): ITableViewState | null {
  if (!value || typeof value !== 'object') {
    return null;
  }
  const v = value as { [key: string]: unknown };
  if (v.view !== 'table' && v.view !== 'chart') {
    return null;
  }
  return { view: v.view, chart: readSavedChart(v.chart) };
}

function readSavedChart(value: unknown): ISavedChart | null {
  if (!value || typeof value !== 'object') {
    return null;
  }
  const v = value as { [key: string]: unknown };
  const d = v.data as { [key: string]: unknown } | undefined;
  if (
    (v.source !== 'spark' && v.source !== 'rows') ||
    !d ||
    typeof d !== 'object' ||
    !CHART_KINDS.includes(d.kind as IChartSettings['kind']) ||
    !CHART_AGGS.includes(d.agg as ChartAgg) ||
    typeof d.x !== 'string' ||
    !(d.y === null || typeof d.y === 'string') ||
    !(d.color === null || typeof d.color === 'string') ||
    !Array.isArray(d.rows) ||
    typeof d.groups !== 'number' ||
    typeof d.shown_groups !== 'number'
  ) {
    return null;
  }
  const rows = (d.rows as unknown[]).filter(
    (r): r is IChartPoint =>
      !!r && typeof r === 'object' && 'x' in r && 'value' in r
  );
  return {
    source: v.source,
    data: {
      kind: d.kind as IChartSettings['kind'],
      x: d.x,
      y: d.y as string | null,
      agg: d.agg as ChartAgg,
      color: d.color as string | null,
      rows,
      groups: d.groups,
      shown_groups: d.shown_groups,
      other: d.other === true,
      computed_over:
        typeof d.computed_over === 'string' ? d.computed_over : 'whole result',
      ...(typeof d.x_type === 'string' ? { x_type: d.x_type } : {})
    }
  };
}
