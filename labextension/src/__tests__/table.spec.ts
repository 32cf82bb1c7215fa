import {
  formatValue,
  parseSparkType,
  sortedRowOrder,
  toDelimited
} from '../format';
import {
  describeSource,
  RenderedTable,
  rowsNotice,
  tableRendererFactory
} from '../table';
import { DEFAULT_SETTINGS, LabSettings } from '../settings';
import { CellValue, ITablePayload, TABLE_MIME_TYPE } from '../types';
import { disposeAll, fixtures, render, texts } from './helpers';

afterEach(disposeAll);

function columnTexts(table: RenderedTable, column: number): string[] {
  return texts(
    table.node.querySelectorAll(`tbody tr td:nth-child(${column + 1})`)
  );
}

describe('table renderer', () => {
  it('is a safe factory for the table mime type', () => {
    expect(tableRendererFactory().safe).toBe(true);
    expect(tableRendererFactory().mimeTypes).toEqual([TABLE_MIME_TYPE]);
  });

  it('shows column names with their Spark types', async () => {
    const table = await render<RenderedTable>(
      tableRendererFactory(),
      fixtures.tableBasic()
    );
    const names = texts(table.node.querySelectorAll('th .pysk-col-name'));
    const types = texts(table.node.querySelectorAll('th .pysk-col-type'));
    expect(names).toEqual(['id', 'name', 'price']);
    expect(types).toEqual(['bigint', 'string', 'decimal(10,2)']);
    expect(table.node.querySelectorAll('tbody tr')).toHaveLength(3);
    expect(columnTexts(table, 0)).toEqual(['1', '2', '3']);
    expect(columnTexts(table, 2)).toEqual(['1.50', '0.99', 'null']);
  });

  it('shows null and the empty string differently', async () => {
    const table = await render<RenderedTable>(
      tableRendererFactory(),
      fixtures.tableBasic()
    );
    const [, empty, missing] = Array.from(
      table.node.querySelectorAll('tbody tr td:nth-child(2)')
    );
    const emptySpan = empty.querySelector('span')!;
    const nullSpan = missing.querySelector('span')!;
    expect(emptySpan.className).toBe('pysk-empty');
    expect(emptySpan.textContent).toBe('""');
    expect(nullSpan.className).toBe('pysk-null');
    expect(nullSpan.textContent).toBe('null');
    expect(empty.querySelector('.pysk-null')).toBeNull();
  });

  it('shows the source badge and the row count', async () => {
    const table = await render<RenderedTable>(
      tableRendererFactory(),
      fixtures.tableBasic()
    );
    const badge = table.node.querySelector('.pysk-badge')!;
    expect(badge.querySelector('.pysk-badge-kind')!.textContent).toBe(
      'DataFrame'
    );
    expect(badge.querySelector('.pysk-badge-detail')!.textContent).toBe('df');
    expect(table.node.querySelector('.pysk-notice')!.textContent).toBe(
      '3 rows'
    );
    expect(
      (table.node.querySelector('.pysk-pager') as HTMLElement).hidden
    ).toBe(true);
  });

  it('renders nested values readably', async () => {
    const table = await render<RenderedTable>(
      tableRendererFactory(),
      fixtures.tableNested()
    );
    const rows = Array.from(table.node.querySelectorAll('tbody tr')).map(tr =>
      texts(tr.querySelectorAll('td'))
    );
    expect(rows[0].slice(0, 8)).toEqual([
      '1',
      '[a, b]',
      '{k1 -> 1, k2 -> 2}',
      '{x: 1.5, y: -2.0}',
      '2024-03-01T12:00:00+00:00',
      '2024-03-01',
      'AAEC',
      'NaN'
    ]);
    expect(rows[1].slice(0, 8)).toEqual([
      '2',
      '[]',
      '{}',
      'null',
      'null',
      'null',
      'null',
      'Infinity'
    ]);
    expect(rows[2]).toEqual([
      '3',
      'null',
      'null',
      '{x: null, y: 0.0}',
      '1970-01-01T00:00:00+00:00',
      '1970-01-01',
      '""',
      '-0.5',
      'null'
    ]);
  });

  it('shows markup as text and never creates elements from values', async () => {
    const table = await render<RenderedTable>(
      tableRendererFactory(),
      fixtures.tableNested()
    );
    const cell = table.node.querySelector('tbody tr td:nth-child(9)')!;
    expect(cell.textContent).toBe('<script>alert(1)</script>');
    expect(cell.children).toHaveLength(0);
    expect(table.node.querySelector('script')).toBeNull();
    expect(document.querySelector('script')).toBeNull();
  });

  it('marks cut values with an ellipsis and a title', async () => {
    const table = await render<RenderedTable>(
      tableRendererFactory(),
      fixtures.tableNested()
    );
    const cut = table.node.querySelectorAll('td.pysk-cut');
    expect(cut).toHaveLength(1);
    const value = fixtures.tableNested().rows[1][8] as string;
    expect(cut[0].textContent).toBe(`${value}\u2026`);
    expect((cut[0] as HTMLElement).title).toMatch(/shortened/);
    // Row 1, column 8 of the fixture's `cut`.
    expect(cut[0]).toBe(
      table.node.querySelectorAll('tbody tr')[1].querySelectorAll('td')[8]
    );
  });

  it('says more rows are available when truncated', async () => {
    const table = await render<RenderedTable>(
      tableRendererFactory(),
      fixtures.tableNested()
    );
    expect(table.node.querySelector('.pysk-notice')!.textContent).toBe(
      'showing 3 rows, more available'
    );
    expect(table.node.querySelector('.pysk-badge')!.textContent).toBe(
      'viewevents'
    );
  });

  it('shows the exact count when row_count is set', () => {
    const payload = fixtures.tableNested();
    payload.row_count = 1234;
    expect(rowsNotice(payload)).toBe('showing 3 of 1,234 rows');
    payload.row_count = 3;
    payload.truncated = false;
    expect(rowsNotice(payload)).toBe('3 rows');
  });

  it('shows the schema and a hint for a streaming DataFrame', async () => {
    const table = await render<RenderedTable>(
      tableRendererFactory(),
      fixtures.tableStreaming()
    );
    expect(texts(table.node.querySelectorAll('th .pysk-col-name'))).toEqual([
      'key',
      'value',
      'topic'
    ]);
    expect(texts(table.node.querySelectorAll('th .pysk-col-type'))).toEqual([
      'binary',
      'binary',
      'string'
    ]);
    expect(table.node.querySelectorAll('tbody tr')).toHaveLength(0);
    expect(table.node.textContent).toContain(
      'streaming DataFrame: start a query to see rows'
    );
    expect(table.node.querySelector('.pysk-copy')).toBeNull();
  });

  it('labels every source', () => {
    const payload = fixtures.tableBasic();
    const label = (patch: Partial<ITablePayload>) => {
      const d = describeSource({ ...payload, ...patch });
      return [d.kind, d.detail];
    };
    expect(label({ source: 'expression' })).toEqual(['expression', null]);
    expect(
      label({ source: 'parquet', parquet_path: '/tmp/out/result.parquet' })
    ).toEqual(['parquet', '/tmp/out/result.parquet']);
    expect(label({ source: 'view', view_name: 'events' })).toEqual([
      'view',
      'events'
    ]);
    expect(label({ source: 'direct_dataframe', variable_name: 'df' })).toEqual([
      'DataFrame',
      'df'
    ]);
    expect(label({ source: 'sql', variable_name: null })).toEqual([
      'sql',
      null
    ]);
    expect(label({ source: 'transform' })).toEqual(['transform', null]);
  });
});

describe('sorting', () => {
  it('sorts by a clicked header, toggling the direction, nulls last', async () => {
    const table = await render<RenderedTable>(
      tableRendererFactory(),
      fixtures.tableBasic()
    );
    const th = table.node.querySelectorAll('th')[1] as HTMLElement;
    th.click();
    expect(th.getAttribute('aria-sort')).toBe('ascending');
    expect(columnTexts(table, 1)).toEqual(['""', 'apple', 'null']);
    th.click();
    expect(th.getAttribute('aria-sort')).toBe('descending');
    expect(columnTexts(table, 1)).toEqual(['apple', '""', 'null']);
    expect(columnTexts(table, 0)).toEqual(['1', '2', '3']);
  });

  it('compares numbers as numbers, decimals too', async () => {
    const payload = fixtures.tableBasic();
    payload.rows = [
      [1, 'a', '10.00'],
      [2, 'b', '9.50'],
      [3, 'c', null],
      [4, 'd', '100.00'],
      [5, 'e', '9.50']
    ];
    const table = await render<RenderedTable>(tableRendererFactory(), payload);
    (table.node.querySelectorAll('th')[2] as HTMLElement).click();
    expect(columnTexts(table, 2)).toEqual([
      '9.50',
      '9.50',
      '10.00',
      '100.00',
      'null'
    ]);
    // Stable: equal keys keep their order.
    expect(columnTexts(table, 0)).toEqual(['2', '5', '1', '4', '3']);
    (table.node.querySelectorAll('th')[2] as HTMLElement).click();
    expect(columnTexts(table, 0)).toEqual(['4', '1', '2', '5', '3']);
  });

  it('puts NaN above Infinity for doubles', () => {
    const payload = fixtures.tableNested();
    const type = parseSparkType('double');
    const order = sortedRowOrder(payload.rows, 7, type, 'ascending');
    expect(order.map(r => payload.rows[r][7])).toEqual([
      -0.5,
      'Infinity',
      'NaN'
    ]);
  });

  it('sorts from the keyboard too', async () => {
    const table = await render<RenderedTable>(
      tableRendererFactory(),
      fixtures.tableBasic()
    );
    const th = table.node.querySelectorAll('th')[0] as HTMLElement;
    th.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter' }));
    th.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter' }));
    expect(columnTexts(table, 0)).toEqual(['3', '2', '1']);
  });
});

describe('CSV and TSV', () => {
  it('writes a known fixture as CSV', () => {
    const p = fixtures.tableBasic();
    expect(toDelimited(p.columns, p.rows, { delimiter: ',' })).toBe(
      'id,name,price\r\n1,apple,1.50\r\n2,"",0.99\r\n3,,\r\n'
    );
  });

  it('writes a known fixture as TSV', () => {
    const p = fixtures.tableBasic();
    expect(toDelimited(p.columns, p.rows, { delimiter: '\t' })).toBe(
      'id\tname\tprice\n1\tapple\t1.50\n2\t""\t0.99\n3\t\t\n'
    );
  });

  it('quotes nested values, quotes and line breaks, and marks cut values', () => {
    const p = fixtures.tableNested();
    const csv = toDelimited(p.columns, p.rows, {
      delimiter: ',',
      cut: p.cut
    });
    const lines = csv.split('\r\n');
    expect(lines[0]).toBe('id,tags,attrs,point,ts,day,raw,score,note');
    expect(lines[1]).toBe(
      '1,"[a, b]","{k1 -> 1, k2 -> 2}","{x: 1.5, y: -2.0}",2024-03-01T12:00:00+00:00,2024-03-01,AAEC,NaN,<script>alert(1)</script>'
    );
    expect(lines[2]).toBe(`2,[],{},,,,,Infinity,${p.rows[1][8]}\u2026`);
    expect(lines[3]).toBe(
      '3,,,"{x: null, y: 0.0}",1970-01-01T00:00:00+00:00,1970-01-01,"",-0.5,'
    );
    const odd = toDelimited(
      [{ name: 'say "hi"', type: 'string', nullable: true }],
      [['a,b'], ['line\nbreak'], ['tab\there'], ['"q"']],
      { delimiter: ',' }
    );
    expect(odd).toBe(
      '"say ""hi"""\r\n"a,b"\r\n"line\nbreak"\r\ntab\there\r\n"""q"""\r\n'
    );
    const tsv = toDelimited(
      [{ name: 's', type: 'string', nullable: true }],
      [['a,b'], ['tab\there']],
      { delimiter: '\t' }
    );
    expect(tsv).toBe('s\na,b\n"tab\there"\n');
  });

  it('copies the shown rows, in sort order, with the Clipboard API', async () => {
    const writeText = jest.fn(() => Promise.resolve());
    Object.defineProperty(navigator, 'clipboard', {
      value: { writeText },
      configurable: true
    });
    try {
      const table = await render<RenderedTable>(
        tableRendererFactory(),
        fixtures.tableBasic()
      );
      (table.node.querySelectorAll('th')[0] as HTMLElement).click();
      (table.node.querySelectorAll('th')[0] as HTMLElement).click();
      const [csvButton, tsvButton] = Array.from(
        table.node.querySelectorAll('button.pysk-copy')
      ) as HTMLButtonElement[];
      expect(csvButton.textContent).toBe('Copy CSV');
      expect(tsvButton.textContent).toBe('Copy TSV');
      csvButton.click();
      await Promise.resolve();
      expect(writeText).toHaveBeenCalledWith(
        'id,name,price\r\n3,,\r\n2,"",0.99\r\n1,apple,1.50\r\n'
      );
      tsvButton.click();
      await new Promise(resolve => setTimeout(resolve, 0));
      expect(writeText).toHaveBeenLastCalledWith(
        'id\tname\tprice\n3\t\t\n2\t""\t0.99\n1\tapple\t1.50\n'
      );
      expect(table.node.querySelector('.pysk-copy-status')!.textContent).toBe(
        'copied 3 rows as TSV'
      );
    } finally {
      delete (navigator as any).clipboard;
    }
  });

  it('falls back to a hidden textarea and execCommand', async () => {
    let copied = '';
    const execCommand = jest.fn((command: string) => {
      const area = document.querySelector('textarea.pysk-clipboard');
      copied = (area as HTMLTextAreaElement).value;
      return command === 'copy';
    });
    (document as any).execCommand = execCommand;
    try {
      const table = await render<RenderedTable>(
        tableRendererFactory(),
        fixtures.tableBasic()
      );
      (table.node.querySelector('button.pysk-copy') as HTMLElement).click();
      await new Promise(resolve => setTimeout(resolve, 0));
      expect(execCommand).toHaveBeenCalledWith('copy');
      // A textarea's value has LF line ends.
      expect(copied).toBe(table.delimitedText(',').replace(/\r\n/g, '\n'));
      expect(document.querySelector('textarea.pysk-clipboard')).toBeNull();
    } finally {
      delete (document as any).execCommand;
    }
  });
});

describe('paging', () => {
  function bigPayload(rows: number, columns: number): ITablePayload {
    const payload = fixtures.tableBasic();
    payload.columns = Array.from({ length: columns }, (_, c) => ({
      name: `c${c}`,
      type: c === 0 ? 'bigint' : 'string',
      nullable: true
    }));
    payload.rows = Array.from({ length: rows }, (_, r) =>
      Array.from({ length: columns }, (_, c): CellValue =>
        c === 0 ? r : `r${r}c${c}`
      )
    );
    payload.truncated = true;
    payload.max_rows = rows;
    return payload;
  }

  it('renders a 10,000-cell preview a page at a time, quickly', async () => {
    const payload = bigPayload(1000, 10);
    const start = performance.now();
    const table = await render<RenderedTable>(tableRendererFactory(), payload);
    const elapsed = performance.now() - start;
    // Only one page is in the DOM; jsdom renders it in a few hundred ms.
    expect(elapsed).toBeLessThan(2500);
    expect(table.node.querySelectorAll('tbody tr')).toHaveLength(
      DEFAULT_SETTINGS.pageSize
    );
    expect(table.node.querySelectorAll('tbody td')).toHaveLength(
      DEFAULT_SETTINGS.pageSize * 10
    );
    const pager = table.node.querySelector('.pysk-pager') as HTMLElement;
    expect(pager.hidden).toBe(false);
    expect(pager.textContent).toContain('rows 1\u201350 of 1,000');

    const [prev, next] = Array.from(
      pager.querySelectorAll('button')
    ) as HTMLButtonElement[];
    expect(prev.disabled).toBe(true);
    next.click();
    expect(columnTexts(table, 0)[0]).toBe('50');
    expect(pager.textContent).toContain('rows 51\u2013100 of 1,000');
    table.showPage(1000);
    expect(columnTexts(table, 0)[0]).toBe('950');
    expect(next.disabled).toBe(true);
    prev.click();
    expect(columnTexts(table, 0)[0]).toBe('900');
  });

  it('shows as many rows per page as the settings say', async () => {
    const settings = new LabSettings();
    settings.update({ pageSize: 20 });
    const table = await render<RenderedTable>(
      tableRendererFactory({ settings }),
      bigPayload(45, 2)
    );
    expect(table.node.querySelectorAll('tbody tr')).toHaveLength(20);
    const pager = table.node.querySelector('.pysk-pager') as HTMLElement;
    expect(pager.textContent).toContain('rows 1\u201320 of 45 \u00b7 page 1/3');
    table.showPage(2);
    expect(columnTexts(table, 0)).toEqual(['40', '41', '42', '43', '44']);
  });

  it('sorts all shown rows, then starts again at the first page', async () => {
    const table = await render<RenderedTable>(
      tableRendererFactory(),
      bigPayload(120, 2)
    );
    table.showPage(2);
    const th = table.node.querySelectorAll('th')[0] as HTMLElement;
    th.click();
    th.click();
    expect(columnTexts(table, 0).slice(0, 2)).toEqual(['119', '118']);
    expect(table.delimitedText(',').split('\r\n')[1]).toBe('119,r119c1');
    const copyAll = table.delimitedText('\t').trim().split('\n');
    expect(copyAll).toHaveLength(121);
  });

  it('renders again from scratch when the model changes', async () => {
    const table = await render<RenderedTable>(
      tableRendererFactory(),
      bigPayload(120, 2)
    );
    const { mimeModel } = await import('./helpers');
    await table.renderModel(mimeModel(TABLE_MIME_TYPE, fixtures.tableBasic()));
    expect(table.node.querySelectorAll('table')).toHaveLength(1);
    expect(table.node.querySelectorAll('tbody tr')).toHaveLength(3);
  });
});

describe('formatValue', () => {
  it('reads nested Spark types', () => {
    expect(parseSparkType('struct<a:int,b:array<string>>')).toEqual({
      kind: 'struct',
      fields: [
        { name: 'a', type: { kind: 'atomic', name: 'int' } },
        {
          name: 'b',
          type: { kind: 'array', element: { kind: 'atomic', name: 'string' } }
        }
      ]
    });
    expect(parseSparkType('map<string,decimal(10,2)>')).toEqual({
      kind: 'map',
      key: { kind: 'atomic', name: 'string' },
      value: { kind: 'atomic', name: 'decimal(10,2)' }
    });
    expect(parseSparkType('array<int')).toEqual({
      kind: 'atomic',
      name: 'array<int'
    });
  });

  it('formats doubles like Spark and nested empty strings as ""', () => {
    const t = parseSparkType('array<struct<d:double,s:string>>');
    expect(
      formatValue(
        [
          { d: 2, s: '' },
          { d: -0, s: null }
        ],
        t
      )
    ).toBe('[{d: 2.0, s: ""}, {d: -0.0, s: null}]');
    expect(formatValue(2, parseSparkType('bigint'))).toBe('2');
    expect(
      formatValue(
        [
          [{ a: 1 }, [1.5]],
          [null, []]
        ],
        parseSparkType('map<struct<a:int>,array<double>>')
      )
    ).toBe('{{a: 1} -> [1.5], null -> []}');
  });
});
