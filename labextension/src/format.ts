/**
 * Pure helpers for table values: Spark type strings, readable values, sort
 * order and CSV/TSV text. No DOM here, so all of it is easy to test.
 */
import type { CellValue, IColumn } from './types';

/**
 * A parsed Spark `simpleString` type.
 */
export type SparkType =
  | { kind: 'array'; element: SparkType }
  | { kind: 'map'; key: SparkType; value: SparkType }
  | { kind: 'struct'; fields: { name: string; type: SparkType }[] }
  | { kind: 'atomic'; name: string };

const UNKNOWN: SparkType = { kind: 'atomic', name: '' };

/**
 * Parse Spark's `simpleString` (`array<struct<a:int,b:map<string,double>>>`).
 *
 * Anything it cannot read becomes an atomic type with the whole text as its
 * name, so formatting falls back to a type-less rendering instead of failing.
 */
export function parseSparkType(text: string): SparkType {
  const parser = new TypeParser(text);
  try {
    const type = parser.parseType();
    if (!parser.atEnd()) {
      return { kind: 'atomic', name: text.trim().toLowerCase() };
    }
    return type;
  } catch {
    return { kind: 'atomic', name: text.trim().toLowerCase() };
  }
}

class TypeParser {
  constructor(private readonly _text: string) {}

  atEnd(): boolean {
    return this._pos >= this._text.length;
  }

  parseType(): SparkType {
    const rest = this._text.slice(this._pos).toLowerCase();
    if (rest.startsWith('array<')) {
      this._pos += 'array<'.length;
      const element = this.parseType();
      this._expect('>');
      return { kind: 'array', element };
    }
    if (rest.startsWith('map<')) {
      this._pos += 'map<'.length;
      const key = this.parseType();
      this._expect(',');
      const value = this.parseType();
      this._expect('>');
      return { kind: 'map', key, value };
    }
    if (rest.startsWith('struct<')) {
      this._pos += 'struct<'.length;
      const fields: { name: string; type: SparkType }[] = [];
      while (this._text[this._pos] !== '>') {
        const colon = this._text.indexOf(':', this._pos);
        if (colon < 0) {
          throw new Error('struct field without a type');
        }
        const name = this._text.slice(this._pos, colon);
        this._pos = colon + 1;
        fields.push({ name, type: this.parseType() });
        if (this._text[this._pos] === ',') {
          this._pos += 1;
        } else if (this._text[this._pos] !== '>') {
          throw new Error('bad struct');
        }
      }
      this._pos += 1;
      return { kind: 'struct', fields };
    }
    // An atomic type ends at `,` or `>` outside parentheses: decimal(10,2).
    const start = this._pos;
    let depth = 0;
    while (this._pos < this._text.length) {
      const ch = this._text[this._pos];
      if (ch === '(') {
        depth += 1;
      } else if (ch === ')') {
        depth -= 1;
      } else if (depth === 0 && (ch === ',' || ch === '>')) {
        break;
      }
      this._pos += 1;
    }
    const name = this._text.slice(start, this._pos).trim().toLowerCase();
    if (!name) {
      throw new Error('empty type');
    }
    return { kind: 'atomic', name };
  }

  private _expect(ch: string): void {
    if (this._text[this._pos] !== ch) {
      throw new Error(`expected ${ch}`);
    }
    this._pos += 1;
  }

  private _pos = 0;
}

const INTEGRAL = new Set([
  'byte',
  'tinyint',
  'short',
  'smallint',
  'int',
  'integer',
  'long',
  'bigint'
]);
const FRACTIONAL = new Set(['float', 'real', 'double']);

/**
 * Whether a type sorts and aligns as a number.
 */
export function isNumericType(type: SparkType): boolean {
  return (
    type.kind === 'atomic' &&
    (INTEGRAL.has(type.name) ||
      FRACTIONAL.has(type.name) ||
      type.name.startsWith('decimal'))
  );
}

/**
 * A byte count for people: `512 B`, `1.5 KiB`, `12 MiB`.
 */
export function formatBytes(n: number): string {
  if (n < 1024) {
    return `${n} B`;
  }
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/**
 * Format a float/double the way Spark and Python show it: `-2.0`, not `-2`.
 */
export function formatFractional(value: number): string {
  if (Object.is(value, -0)) {
    return '-0.0';
  }
  if (Number.isInteger(value) && Math.abs(value) < 1e16) {
    return value.toFixed(1);
  }
  return String(value);
}

/**
 * A readable text for one value of a given Spark type.
 *
 * Structs read `{x: 1.5, y: -2.0}`, arrays `[a, b]`, maps
 * `{k1 -> 1, k2 -> 2}` (the payload sends maps as `[key, value]` pairs),
 * nulls `null`. An empty string is `""` inside a nested value; at the top
 * level (`nested` false) it stays empty, since the table marks it itself.
 */
export function formatValue(
  value: CellValue | undefined,
  type: SparkType = UNKNOWN,
  nested = false
): string {
  if (value === null || value === undefined) {
    return 'null';
  }
  if (Array.isArray(value)) {
    if (type.kind === 'map') {
      return formatMap(value, type.key, type.value);
    }
    const element = type.kind === 'array' ? type.element : UNKNOWN;
    return `[${value.map(v => formatValue(v, element, true)).join(', ')}]`;
  }
  if (typeof value === 'object') {
    if (type.kind === 'map') {
      // Tolerate a map sent as an object (string keys only).
      return formatMap(Object.entries(value), type.key, type.value);
    }
    const fields = type.kind === 'struct' ? type.fields : [];
    const parts = Object.keys(value).map((name, index) => {
      const field =
        fields.find(f => f.name === name) ??
        (fields.length === Object.keys(value).length
          ? fields[index]
          : undefined);
      return `${name}: ${formatValue(value[name], field?.type, true)}`;
    });
    return `{${parts.join(', ')}}`;
  }
  if (typeof value === 'number') {
    if (type.kind === 'atomic' && FRACTIONAL.has(type.name)) {
      return formatFractional(value);
    }
    return String(value);
  }
  if (typeof value === 'boolean') {
    return value ? 'true' : 'false';
  }
  if (nested && value === '') {
    return '""';
  }
  return String(value);
}

function formatMap(
  entries: unknown[],
  keyType: SparkType,
  valueType: SparkType
): string {
  const parts = entries.map(entry => {
    if (Array.isArray(entry) && entry.length === 2) {
      const [k, v] = entry as [CellValue, CellValue];
      return `${formatValue(k, keyType, true)} -> ${formatValue(v, valueType, true)}`;
    }
    return formatValue(entry as CellValue, UNKNOWN, true);
  });
  return `{${parts.join(', ')}}`;
}

/**
 * Sort key of a numeric value: NaN sorts above +Infinity, as in Spark.
 */
export function numericKey(value: CellValue): number | null {
  if (typeof value === 'number') {
    return value;
  }
  if (typeof value === 'string') {
    if (value === 'NaN') {
      return Number.NaN;
    }
    const n = Number(value);
    return Number.isNaN(n) ? null : n;
  }
  if (typeof value === 'boolean') {
    return value ? 1 : 0;
  }
  return null;
}

/**
 * Compare two numbers, NaN above everything.
 */
export function compareNumbers(a: number, b: number): number {
  const aNaN = Number.isNaN(a);
  const bNaN = Number.isNaN(b);
  if (aNaN || bNaN) {
    return aNaN === bNaN ? 0 : aNaN ? 1 : -1;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Sort direction of a column.
 */
export type SortDirection = 'ascending' | 'descending';

/**
 * How a table is sorted: by one column, or not at all (`null`: the order of
 * the result).
 */
export interface ISortState {
  column: number;
  direction: SortDirection;
}

/**
 * The sort after a click on a column's header: ascending, then descending,
 * then back to the result's own order.
 */
export function nextSort(
  current: ISortState | null,
  column: number
): ISortState | null {
  if (!current || current.column !== column) {
    return { column, direction: 'ascending' };
  }
  if (current.direction === 'ascending') {
    return { column, direction: 'descending' };
  }
  return null;
}

/**
 * The order of `rows` sorted by one column: stable, nulls last in both
 * directions, numbers compared as numbers (decimals too), everything else by
 * its readable text.
 *
 * @returns row indices into `rows`.
 */
export function sortedRowOrder(
  rows: ReadonlyArray<ReadonlyArray<CellValue>>,
  column: number,
  type: SparkType,
  direction: SortDirection
): number[] {
  const numeric =
    isNumericType(type) || (type.kind === 'atomic' && type.name === 'boolean');
  const keys = rows.map(row => {
    const value = row[column];
    if (value === null || value === undefined) {
      return null;
    }
    if (numeric) {
      const n = numericKey(value);
      if (n !== null) {
        return n;
      }
    }
    return typeof value === 'string' ? value : formatValue(value, type, false);
  });
  const sign = direction === 'ascending' ? 1 : -1;
  const order = rows.map((_, index) => index);
  order.sort((i, j) => {
    const a = keys[i];
    const b = keys[j];
    if (a === null || b === null) {
      if (a === b) {
        return i - j;
      }
      return a === null ? 1 : -1;
    }
    let result: number;
    if (typeof a === 'number' && typeof b === 'number') {
      result = compareNumbers(a, b);
    } else if (typeof a === 'number') {
      result = -1;
    } else if (typeof b === 'number') {
      result = 1;
    } else {
      result = compareText(a, b);
    }
    return result === 0 ? i - j : sign * result;
  });
  return order;
}

/**
 * Marks a cut (shortened) value in readable text and in copied text.
 */
export const CUT_MARK = '\u2026';

/**
 * Options of `toDelimited`.
 */
export interface IDelimitedOptions {
  /** Field separator: `,` for CSV, `\t` for TSV. */
  delimiter: ',' | '\t';
  /** Row indices to write, in order; all rows in their order by default. */
  order?: ReadonlyArray<number>;
  /** `[row, col]` of shortened values, marked with `…`. */
  cut?: ReadonlyArray<readonly [number, number]>;
}

/**
 * Quote one field if needed: fields holding the delimiter, a quote or a line
 * break are quoted, with quotes doubled (RFC 4180); an empty string is `""`
 * so that it differs from a null, which is an empty field.
 */
export function quoteField(text: string | null, delimiter: string): string {
  if (text === null) {
    return '';
  }
  if (
    text === '' ||
    text.includes(delimiter) ||
    text.includes('"') ||
    text.includes('\n') ||
    text.includes('\r')
  ) {
    return `"${text.replace(/"/g, '""')}"`;
  }
  return text;
}

/**
 * CSV (RFC 4180, CRLF line ends) or TSV (LF line ends) text of a table,
 * header line first: the column names. Values are written as the table
 * shows them (nested values readable), nulls as empty fields.
 */
export function toDelimited(
  columns: ReadonlyArray<IColumn>,
  rows: ReadonlyArray<ReadonlyArray<CellValue>>,
  options: IDelimitedOptions
): string {
  const { delimiter } = options;
  const types = columns.map(c => parseSparkType(c.type));
  const cut = new Set((options.cut ?? []).map(([r, c]) => `${r},${c}`));
  const order = options.order ?? rows.map((_, index) => index);
  const lineEnd = delimiter === ',' ? '\r\n' : '\n';
  const lines = [
    columns.map(c => quoteField(c.name, delimiter)).join(delimiter)
  ];
  for (const r of order) {
    const row = rows[r] ?? [];
    const fields = columns.map((_, c) => {
      const value = row[c];
      if (value === null || value === undefined) {
        return quoteField(null, delimiter);
      }
      let text = formatValue(value, types[c], false);
      if (cut.has(`${r},${c}`)) {
        text += CUT_MARK;
      }
      return quoteField(text, delimiter);
    });
    lines.push(fields.join(delimiter));
  }
  return lines.join(lineEnd) + lineEnd;
}

/**
 * `1234567` → `1,234,567`.
 */
export function formatCount(n: number): string {
  return Math.round(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/**
 * `n` followed by the singular or plural noun: `1 row`, `3 rows`.
 */
export function plural(n: number, noun: string, nouns = `${noun}s`): string {
  return `${formatCount(n)} ${n === 1 ? noun : nouns}`;
}

/**
 * A short duration: `820 ms`, `5.1 s`, `2 min 5 s`, `1 h 2 min`.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) {
    return '';
  }
  if (ms < 1000) {
    return `${Math.round(ms)} ms`;
  }
  const seconds = ms / 1000;
  if (seconds < 60) {
    return `${seconds.toFixed(1)} s`;
  }
  const total = Math.round(seconds);
  if (total < 3600) {
    return `${Math.floor(total / 60)} min ${total % 60} s`;
  }
  return `${Math.floor(total / 3600)} h ${Math.floor((total % 3600) / 60)} min`;
}

/**
 * A rate with at most one decimal: `48.5`, `1,234.5`.
 */
export function formatRate(n: number): string {
  if (!Number.isFinite(n)) {
    return String(n);
  }
  const rounded = Math.round(n * 10) / 10;
  const [whole, fraction] = Math.abs(rounded).toFixed(1).split('.');
  const sign = rounded < 0 ? '-' : '';
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return fraction === '0'
    ? `${sign}${grouped}`
    : `${sign}${grouped}.${fraction}`;
}
