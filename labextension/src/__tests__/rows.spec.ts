import { ChunkAssembler } from '../download';
import { describeFilter, FilterBar } from '../filters';
import { formatBytes, nextSort, parseSparkType } from '../format';
import { formatShare, formatStat, histogram, profileBlock } from '../profile';
import { filterValue, matchesFilter, TableRows } from '../rows';
import type { FilterOp } from '../types';
import { channelFixtures, fixtures, texts } from './helpers';

const t = parseSparkType;

describe('nextSort', () => {
  it('cycles ascending, descending, none; another column starts over', () => {
    expect(nextSort(null, 2)).toEqual({ column: 2, direction: 'ascending' });
    expect(nextSort({ column: 2, direction: 'ascending' }, 2)).toEqual({
      column: 2,
      direction: 'descending'
    });
    expect(nextSort({ column: 2, direction: 'descending' }, 2)).toBeNull();
    expect(nextSort({ column: 2, direction: 'descending' }, 0)).toEqual({
      column: 0,
      direction: 'ascending'
    });
  });
});

describe('filters on saved rows', () => {
  const pass = (value: any, type: string, op: FilterOp, wanted?: any) =>
    matchesFilter(value, t(type), { column: 'c', op, value: wanted });

  it('compares numbers as numbers, decimals too', () => {
    expect(pass(10, 'bigint', 'ge', 10)).toBe(true);
    expect(pass(9, 'bigint', 'ge', 10)).toBe(false);
    expect(pass('9.50', 'decimal(10,2)', 'lt', 10)).toBe(true);
    expect(pass('100.00', 'decimal(10,2)', 'gt', 9.5)).toBe(true);
    expect(pass(2, 'int', 'eq', 2)).toBe(true);
    expect(pass(2, 'int', 'ne', 2)).toBe(false);
    expect(pass('NaN', 'double', 'gt', 1e300)).toBe(true);
    expect(pass(true, 'boolean', 'eq', true)).toBe(true);
    expect(pass(1, 'bigint', 'eq', 'x')).toBe(false);
  });

  it('matches text case-insensitively for contains and starts with', () => {
    expect(pass('Apple', 'string', 'contains', 'PP')).toBe(true);
    expect(pass('Apple', 'string', 'starts_with', 'ap')).toBe(true);
    expect(pass('Apple', 'string', 'starts_with', 'pp')).toBe(false);
    expect(pass('b', 'string', 'gt', 'a')).toBe(true);
    expect(pass('2024-03-01', 'date', 'le', '2024-03-01')).toBe(true);
    expect(pass(['a', 'b'], 'array<string>', 'contains', 'a, b')).toBe(true);
  });

  it('lets nulls pass only is_null', () => {
    expect(pass(null, 'string', 'is_null')).toBe(true);
    expect(pass('', 'string', 'is_null')).toBe(false);
    expect(pass('', 'string', 'not_null')).toBe(true);
    for (const op of ['eq', 'ne', 'lt', 'contains'] as FilterOp[]) {
      expect(pass(null, 'string', op, 'x')).toBe(false);
    }
  });

  it('sends numbers to numeric columns and booleans to boolean ones', () => {
    expect(filterValue(' 10 ', t('bigint'))).toBe(10);
    expect(filterValue('1.5', t('decimal(10,2)'))).toBe(1.5);
    expect(filterValue('ten', t('bigint'))).toBe('ten');
    expect(filterValue('TRUE', t('boolean'))).toBe(true);
    expect(filterValue('10', t('string'))).toBe('10');
  });
});

describe('the filter bar', () => {
  it('makes typed filters and shows them as chips', () => {
    const added: unknown[] = [];
    const removed: number[] = [];
    const bar = new FilterBar({
      columns: fixtures.tableBasic().columns,
      types: fixtures.tableBasic().columns.map(c => t(c.type)),
      onAdd: f => added.push(f),
      onRemove: i => removed.push(i)
    });
    bar.toggle.click();
    expect(bar.node.hidden).toBe(false);
    expect(bar.toggle.getAttribute('aria-pressed')).toBe('true');
    const column = bar.node.querySelector(
      '.pysk-filter-column'
    ) as HTMLSelectElement;
    const op = bar.node.querySelector('.pysk-filter-op') as HTMLSelectElement;
    const value = bar.node.querySelector(
      '.pysk-filter-value'
    ) as HTMLInputElement;
    column.value = '2';
    op.value = 'gt';
    value.value = '1.25';
    value.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter' }));
    column.value = '1';
    op.value = 'is_null';
    op.dispatchEvent(new Event('change'));
    expect(value.disabled).toBe(true);
    (bar.node.querySelector('.pysk-filter-add') as HTMLElement).click();
    expect(added).toEqual([
      { column: 'price', op: 'gt', value: 1.25 },
      { column: 'name', op: 'is_null' }
    ]);
    bar.setFilters(added as any);
    expect(bar.toggle.textContent).toBe('Filter (2)');
    expect(texts(bar.node.querySelectorAll('.pysk-chip'))).toEqual([
      'price > 1.25\u00d7',
      'name is null\u00d7'
    ]);
    (bar.node.querySelectorAll('.pysk-chip-remove')[1] as HTMLElement).click();
    expect(removed).toEqual([1]);
    expect(describeFilter({ column: 'n', op: 'contains', value: 'a"b' })).toBe(
      'n contains "a\\"b"'
    );
  });
});

describe('TableRows', () => {
  it('filters and sorts the saved rows, keeping cut marks with their rows', () => {
    const payload = fixtures.tableNested();
    const rows = new TableRows({
      payload,
      channel: null,
      trusted: true,
      timeoutMs: () => 1000
    });
    const page = rows.savedPage({
      sort: { column: 0, direction: 'descending' },
      filters: [{ column: 'note', op: 'not_null' }],
      offset: 0,
      limit: 10
    });
    expect(page.rows.map(r => r[0])).toEqual([2, 1]);
    // The fixture's cut value is row 1, column 8: now the first row.
    expect(Array.from(page.cut)).toEqual(['0,8']);
    expect(page).toMatchObject({ total: 2, hasMore: false, origin: 'rows' });
    expect(rows.wholeResult).toBe(false);
    expect(rows.whyRowsOnly()).toBe(
      'the 3 saved rows only: this output has no result id (an older kernel)'
    );
  });

  it('asks nothing of Spark for a preview that is the whole result', () => {
    const rows = new TableRows({
      payload: fixtures.tableBasic(),
      channel: null,
      trusted: true,
      timeoutMs: () => 1000
    });
    const query = { sort: null, filters: [], offset: 0, limit: 2 };
    expect(rows.needsSpark(query)).toBe(false);
    expect(rows.whyRowsOnly()).toBeNull();
    expect(rows.savedPage(query)).toMatchObject({ total: 3, hasMore: true });
  });
});

describe('profile blocks', () => {
  it('shows the null share, distinct values, range and histogram', () => {
    const [qty, product] = channelFixtures.profileReply().profile.columns;
    const block = profileBlock(qty);
    expect(texts(block.querySelectorAll('.pysk-profile-line'))).toEqual([
      'null 0% \u00b7 ~13 distinct',
      'min 0 \u00b7 max 12 \u00b7 mean 5.99'
    ]);
    const bar = block.querySelector('.pysk-histogram rect')!;
    expect(bar.querySelector('title')!.textContent).toBe('0 \u2013 1.2: 154');
    const top = profileBlock(product);
    expect(top.querySelector('.pysk-profile-range')).toBeNull();
    expect(texts(top.querySelectorAll('.pysk-profile-text'))).toEqual(['p0']);
  });

  it('scales histogram bars to the largest bin', () => {
    const svg = histogram([
      { start: 0, end: 1, count: 10 },
      { start: 1, end: 2, count: 5 },
      { start: 2, end: 3, count: 0 }
    ]);
    const heights = Array.from(svg.querySelectorAll('rect'), r =>
      Number(r.getAttribute('height'))
    );
    expect(heights).toEqual([28, 14, 0]);
  });

  it('formats shares and numbers shortly', () => {
    expect([0, 0.004, 0.125, 1].map(formatShare)).toEqual([
      '0%',
      '0.4%',
      '13%',
      '100%'
    ]);
    expect([1234567, 5.98765, null].map(formatStat)).toEqual([
      '1,234,567',
      '5.988',
      '\u2013'
    ]);
    expect([512, 1536, 12 * 1024 * 1024].map(formatBytes)).toEqual([
      '512 B',
      '1.5 KiB',
      '12 MiB'
    ]);
  });
});

describe('ChunkAssembler', () => {
  const view = (text: string) =>
    new DataView(Uint8Array.from(text, c => c.charCodeAt(0)).buffer);

  it('puts chunks in order and checks the size', () => {
    const chunks = new ChunkAssembler();
    chunks.add(1, 2, [view('def')]);
    chunks.add(0, 2, [view('abc')]);
    expect(chunks.received).toBe(2);
    expect(chunks.bytes).toBe(6);
    const blob = chunks.blob(2, 6, 'text/csv');
    expect(blob).toBeInstanceOf(Blob);
    expect((blob as Blob).size).toBe(6);
    expect(chunks.blob(2, 7, 'text/csv')).toBe('received 6 B of 7 B');
    expect(chunks.blob(3, 6, 'text/csv')).toBe('chunk 3 of 3 is missing');
  });
});
