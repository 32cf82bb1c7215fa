/**
 * The filter bar of a table: a column, an operator and a value make a
 * filter; the filters applied show as chips that remove them. The table
 * decides where they apply (Spark's `page` op, or the saved rows).
 */
import { el } from './dom';
import type { SparkType } from './format';
import { filterValue } from './rows';
import { FILTER_OPS, FilterOp, IColumn, IFilter } from './types';

/**
 * How each filter operator reads.
 */
export const FILTER_LABELS: { [op in FilterOp]: string } = {
  eq: '=',
  ne: '\u2260',
  lt: '<',
  le: '\u2264',
  gt: '>',
  ge: '\u2265',
  contains: 'contains',
  starts_with: 'starts with',
  is_null: 'is null',
  not_null: 'is not null'
};

/**
 * A filter in words: `name contains "ap"`.
 */
export function describeFilter(filter: IFilter): string {
  const op = FILTER_LABELS[filter.op];
  if (filter.op === 'is_null' || filter.op === 'not_null') {
    return `${filter.column} ${op}`;
  }
  const value =
    typeof filter.value === 'string'
      ? JSON.stringify(filter.value)
      : String(filter.value);
  return `${filter.column} ${op} ${value}`;
}

function button(text: string, className: string): HTMLButtonElement {
  const b = el('button', `pysk-button ${className}`, text);
  b.type = 'button';
  return b;
}

/**
 * Options of `FilterBar`.
 */
export interface IFilterBarOptions {
  columns: IColumn[];
  types: SparkType[];
  /** A filter was made with the bar. */
  onAdd: (filter: IFilter) => void;
  /** The chip of the filter at `index` was removed. */
  onRemove: (index: number) => void;
}

/**
 * The toggle button and the bar of a table's filters.
 */
export class FilterBar {
  constructor(options: IFilterBarOptions) {
    const { columns, types } = options;
    this.toggle = button('Filter', 'pysk-filter-toggle');
    this.toggle.setAttribute('aria-pressed', 'false');
    this.toggle.addEventListener('click', () => this.show(this.node.hidden));

    this.node = el('div', 'pysk-filters');
    this.node.hidden = true;
    const column = el('select', 'pysk-select pysk-filter-column');
    column.setAttribute('aria-label', 'column');
    columns.forEach((c, i) => {
      const option = el('option', undefined, c.name);
      option.value = String(i);
      column.appendChild(option);
    });
    const op = el('select', 'pysk-select pysk-filter-op');
    op.setAttribute('aria-label', 'operator');
    for (const name of FILTER_OPS) {
      const option = el('option', undefined, FILTER_LABELS[name]);
      option.value = name;
      op.appendChild(option);
    }
    const value = el('input', 'pysk-filter-value');
    value.type = 'text';
    value.placeholder = 'value';
    value.setAttribute('aria-label', 'value');
    this._value = value;
    const noValue = () => op.value === 'is_null' || op.value === 'not_null';
    op.addEventListener('change', () => {
      value.disabled = noValue();
    });
    const add = button('Add filter', 'pysk-filter-add');
    const submit = () => {
      const index = Number(column.value);
      const filter: IFilter = {
        column: columns[index].name,
        op: op.value as FilterOp
      };
      if (!noValue()) {
        filter.value = filterValue(value.value, types[index]);
      }
      value.value = '';
      options.onAdd(filter);
    };
    add.addEventListener('click', submit);
    value.addEventListener('keydown', (event: KeyboardEvent) => {
      if (event.key === 'Enter') {
        event.preventDefault();
        submit();
      }
    });
    this._chips = el('span', 'pysk-filter-chips');
    this._onRemove = options.onRemove;
    this.node.append(column, op, value, add, this._chips);
  }

  /**
   * The button that shows and hides the bar, for the table's toolbar.
   */
  readonly toggle: HTMLButtonElement;

  /**
   * The bar.
   */
  readonly node: HTMLDivElement;

  /**
   * Show or hide the bar.
   */
  show(visible: boolean): void {
    this.node.hidden = !visible;
    this.toggle.setAttribute('aria-pressed', String(visible));
    if (visible) {
      this._value.focus();
    }
  }

  /**
   * Show the filters applied, as chips.
   */
  setFilters(filters: ReadonlyArray<IFilter>): void {
    this._chips.textContent = '';
    filters.forEach((filter, index) => {
      const chip = el('span', 'pysk-chip', describeFilter(filter));
      const remove = button('\u00d7', 'pysk-chip-remove');
      remove.setAttribute(
        'aria-label',
        `remove filter ${describeFilter(filter)}`
      );
      remove.addEventListener('click', () => this._onRemove(index));
      chip.appendChild(remove);
      this._chips.appendChild(chip);
    });
    const n = filters.length;
    this.toggle.textContent = n ? `Filter (${n})` : 'Filter';
  }

  private _value: HTMLInputElement;
  private _chips: HTMLSpanElement;
  private _onRemove: (index: number) => void;
}
