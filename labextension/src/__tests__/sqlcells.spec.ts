import type { LanguageSupport } from '@codemirror/language';
import { Signal } from '@lumino/signaling';

import {
  isSqlCell,
  registerSparkSql,
  SPARK_SQL_MIME_TYPE,
  SqlCells
} from '../sqlcells';

const PYTHON = 'text/x-ipython';

/**
 * A code cell model: its source, its mime type and their signals.
 */
class FakeCell {
  constructor(
    private _source: string,
    readonly type = 'code'
  ) {}

  isDisposed = false;
  contentChanged = new Signal<this, void>(this);
  mimeTypeChanged = new Signal<this, unknown>(this);
  sharedModel = { getSource: () => this._source };

  get mimeType(): string {
    return this._mime;
  }

  set mimeType(value: string) {
    const oldValue = this._mime;
    this._mime = value;
    this.mimeTypeChanged.emit({ name: 'mimeType', oldValue, newValue: value });
  }

  setSource(source: string): void {
    this._source = source;
    this.contentChanged.emit();
  }

  private _mime = PYTHON;
}

class FakeNotebook {
  constructor(cells: FakeCell[]) {
    this.list = cells;
  }

  list: FakeCell[];
  changed = new Signal<this, any>(this);
  modelChanged = new Signal<this, void>(this);
  codeMimetype = PYTHON;
  model: any = {
    cells: {
      get: (i: number) => this.list[i],
      changed: this.changed,
      length: 0
    }
  };

  insert(cell: FakeCell): void {
    this.list.push(cell);
    // As the notebook does on insert: its code mime type first.
    cell.mimeType = this.codeMimetype;
    this.changed.emit({ newValues: [cell], oldValues: [] });
  }
}

function notebook(cells: FakeCell[]): FakeNotebook {
  const nb = new FakeNotebook(cells);
  Object.defineProperty(nb.model.cells, 'length', {
    get: () => nb.list.length
  });
  return nb;
}

describe('isSqlCell', () => {
  it('knows a %%sql cell by its first line', () => {
    expect(isSqlCell('%%sql\nSELECT 1')).toBe(true);
    expect(isSqlCell('%%sql -o top -n 10\nSELECT 1')).toBe(true);
    expect(isSqlCell('\n  \n%%sql\nSELECT 1')).toBe(true);
    expect(isSqlCell('%%sql')).toBe(true);
    expect(isSqlCell('%%sqlite\nSELECT 1')).toBe(false);
    expect(isSqlCell('x = 1\n%%sql')).toBe(false);
    expect(isSqlCell('  %%sql\nSELECT 1')).toBe(false);
    expect(isSqlCell('spark.sql("SELECT 1")')).toBe(false);
  });
});

describe('SqlCells', () => {
  it('gives %%sql cells the Spark SQL mime type, and only them', () => {
    const sql = new FakeCell('%%sql\nSELECT 1');
    const python = new FakeCell('x = 1');
    const markdown = new FakeCell('%%sql', 'markdown');
    const nb = notebook([sql, python, markdown]);
    const follower = new SqlCells(nb as any);
    expect(sql.mimeType).toBe(SPARK_SQL_MIME_TYPE);
    expect(python.mimeType).toBe(PYTHON);
    expect(markdown.mimeType).toBe(PYTHON);

    // Typing turns a cell into a %%sql cell and back.
    python.setSource('%%sql\nSELECT 2');
    expect(python.mimeType).toBe(SPARK_SQL_MIME_TYPE);
    python.setSource('# not SQL any more');
    expect(python.mimeType).toBe(PYTHON);

    // The notebook resets every code cell when the kernel's language comes.
    sql.mimeType = PYTHON;
    expect(sql.mimeType).toBe(SPARK_SQL_MIME_TYPE);

    // New cells are followed too.
    const added = new FakeCell('%%sql\nSHOW TABLES');
    nb.insert(added);
    expect(added.mimeType).toBe(SPARK_SQL_MIME_TYPE);

    follower.dispose();
    expect(follower.isDisposed).toBe(true);
    added.mimeType = PYTHON;
    expect(added.mimeType).toBe(PYTHON);
  });
});

describe('Spark SQL language', () => {
  it('is registered under its mime type and parses Spark SQL', async () => {
    const added: any[] = [];
    registerSparkSql({ addLanguage: (spec: any) => added.push(spec) } as any);
    expect(added).toHaveLength(1);
    expect(added[0]).toMatchObject({
      name: 'Spark SQL',
      mime: SPARK_SQL_MIME_TYPE
    });
    const support = (await added[0].load()) as LanguageSupport;
    expect(support.language.name).toBe('sql');
    const text =
      'SELECT `my col`, named_struct(\'a\', 1), "text" FROM t LATERAL VIEW explode(xs) CAST(x AS bigint)';
    const tree = support.language.parser.parse(text);
    const tokens: [string, string][] = [];
    tree.iterate({
      enter: node => {
        if (node.node.firstChild === null) {
          tokens.push([node.name, text.slice(node.from, node.to)]);
        }
      }
    });
    const kind = (word: string) => tokens.find(([, w]) => w === word)?.[0];
    expect(kind('SELECT')).toBe('Keyword');
    expect(kind('LATERAL')).toBe('Keyword');
    expect(kind('VIEW')).toBe('Keyword');
    expect(kind('`my col`')).toBe('QuotedIdentifier');
    expect(kind('"text"')).toBe('String');
    expect(kind('named_struct')).toBe('Builtin');
    expect(kind('explode')).toBe('Builtin');
    expect(kind('bigint')).toBe('Type');
    expect(kind('t')).toBe('Identifier');
  });
});
