/**
 * The Spark data browser, a side panel: the databases with their tables,
 * the temporary views with their columns, the global temporary views and
 * the DataFrame variables of the current notebook's kernel, from the
 * `catalog` pushes of its channel (the kernel lists them without a Spark
 * job). A table's columns are asked for when it is expanded; clicking a
 * table or view inserts `%%sql SELECT * FROM name LIMIT 100` below the
 * active cell.
 */
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import type { SparkChannel } from './channel';
import { el } from './dom';
import { plural } from './format';
import type { ICatalog, ICatalogColumn, ICatalogMessage } from './types';

/**
 * A name as Spark SQL reads it: plain when it is an identifier, else in
 * backquotes (with backquotes doubled).
 */
export function quoteIdentifier(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)
    ? name
    : `\`${name.replace(/`/g, '``')}\``;
}

/**
 * The cell inserted for a table or view.
 */
export function selectCell(qualifiedName: string): string {
  return `%%sql\nSELECT * FROM ${qualifiedName} LIMIT 100`;
}

/**
 * Kinds of entries in the browser.
 */
export type EntryKind = 'view' | 'table' | 'global_view' | 'dataframe';

/**
 * Options of `DataBrowser`.
 */
export interface IDataBrowserOptions {
  tracker: Pick<INotebookTracker, 'currentWidget' | 'currentChanged'>;
  /** The channel of a notebook panel. */
  channelOf: (panel: NotebookPanel) => SparkChannel | undefined;
  /** Insert a new cell holding `text` below the panel's active cell. */
  insertBelow: (panel: NotebookPanel, text: string) => void;
}

/**
 * The side panel.
 */
export class DataBrowser extends Widget {
  constructor(options: IDataBrowserOptions) {
    super();
    this.addClass('pysk-DataBrowser');
    this.id = 'pyspark-kernel-lab-data-browser';
    this.title.caption = 'Spark data';
    this._options = options;
    const head = el('div', 'pysk-browser-head');
    head.appendChild(el('span', 'pysk-browser-title', 'Spark data'));
    this._refresh = el('button', 'pysk-button pysk-browser-refresh', 'Refresh');
    this._refresh.type = 'button';
    this._refresh.title = 'list the catalog again (no Spark job)';
    this._refresh.addEventListener('click', () => this.refresh());
    head.appendChild(this._refresh);
    this._state = el('div', 'pysk-browser-state');
    this._state.setAttribute('aria-live', 'polite');
    this._tree = el('div', 'pysk-browser-tree');
    this.node.append(head, this._state, this._tree);
    options.tracker.currentChanged.connect(this._follow, this);
    this._follow();
  }

  /**
   * The channel followed (the current notebook's).
   */
  get channel(): SparkChannel | null {
    return this._channel;
  }

  /**
   * Ask the current notebook's kernel for its catalog.
   */
  refresh(): void {
    const channel = this._channel;
    if (channel?.isOpen) {
      this._asked = channel;
      void channel.request('catalog');
    }
  }

  /**
   * Expand or collapse an entry (a table's columns are asked for).
   */
  toggle(kind: EntryKind, name: string): void {
    const key = `${kind}:${name}`;
    if (this._expanded.has(key)) {
      this._expanded.delete(key);
    } else {
      this._expanded.add(key);
    }
    this._render();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._options.tracker.currentChanged.disconnect(this._follow, this);
    this._watch(null);
    super.dispose();
  }

  private _follow(): void {
    const panel = this._options.tracker.currentWidget;
    this._panel = panel ?? null;
    this._watch(panel ? (this._options.channelOf(panel) ?? null) : null);
  }

  private _watch(channel: SparkChannel | null): void {
    if (channel === this._channel) {
      this._render();
      return;
    }
    this._channel?.catalogChanged.disconnect(this._onCatalog, this);
    this._channel?.statusChanged.disconnect(this._onStatus, this);
    this._channel = channel;
    this._columns.clear();
    channel?.catalogChanged.connect(this._onCatalog, this);
    channel?.statusChanged.connect(this._onStatus, this);
    if (
      channel &&
      channel.isOpen &&
      channel.catalog === null &&
      this._asked !== channel
    ) {
      this.refresh();
    }
    this._render();
  }

  private _onCatalog(): void {
    // Tables may have changed: their columns are asked for again.
    this._columns.clear();
    this._render();
  }

  private _onStatus(): void {
    const channel = this._channel;
    if (!channel?.isOpen) {
      // Closed (a restart): ask the next kernel once it answers.
      this._asked = null;
    } else if (channel.catalog === null && this._asked !== channel) {
      this.refresh();
    }
    this._render();
  }

  private _render(): void {
    const channel = this._channel;
    const catalog = channel?.catalog ?? null;
    this._refresh.disabled = !channel?.isOpen;
    this._tree.textContent = '';
    if (!this._panel) {
      this._setState('open a notebook on a PySpark kernel');
      return;
    }
    if (!channel || !channel.isOpen) {
      this._setState(
        'no Spark kernel: the notebook\u2019s kernel does not speak the pyspark-kernel channel'
      );
      return;
    }
    if (!catalog) {
      this._setState('listing the catalog\u2026');
      return;
    }
    this._setState(
      catalog.ready
        ? `current database: ${catalog.current_database ?? 'default'}`
        : `Spark session ${channel.status?.state ?? 'starting'}: the catalog follows once it is ready`
    );
    this._renderCatalog(catalog);
  }

  private _setState(text: string): void {
    this._state.textContent = text;
  }

  private _renderCatalog(catalog: ICatalog): void {
    const section = (title: string, kind: string, count: number) => {
      const node = el('section', `pysk-browser-section pysk-browser-${kind}`);
      node.appendChild(el('h3', 'pysk-browser-heading', `${title} (${count})`));
      const list = el('ul', 'pysk-tree');
      node.appendChild(list);
      this._tree.appendChild(node);
      return list;
    };
    const views = section(
      'Temporary views',
      'views',
      catalog.temp_views.length
    );
    for (const view of catalog.temp_views) {
      views.appendChild(
        this._entry('view', view.name, quoteIdentifier(view.name), view.columns)
      );
    }
    for (const db of catalog.databases) {
      const tables = section(`Database ${db.name}`, 'tables', db.tables.length);
      tables.parentElement!.dataset.database = db.name;
      for (const name of db.tables) {
        const qualified = `${quoteIdentifier(db.name)}.${quoteIdentifier(name)}`;
        tables.appendChild(
          this._entry('table', `${db.name}.${name}`, qualified, null)
        );
      }
    }
    if (catalog.global_views.length) {
      const global = catalog.global_database ?? 'global_temp';
      const list = section(
        `Global views (${global})`,
        'global',
        catalog.global_views.length
      );
      for (const view of catalog.global_views) {
        const qualified = `${quoteIdentifier(global)}.${quoteIdentifier(view.name)}`;
        list.appendChild(
          this._entry(
            'global_view',
            `${global}.${view.name}`,
            qualified,
            view.columns
          )
        );
      }
    }
    const frames = section(
      'DataFrames',
      'dataframes',
      catalog.dataframes.length
    );
    for (const frame of catalog.dataframes) {
      frames.appendChild(
        this._entry('dataframe', frame.name, null, frame.columns)
      );
    }
  }

  /**
   * One entry: expand toggle, name (a button inserting the query, for
   * tables and views) and, expanded, its columns.
   */
  private _entry(
    kind: EntryKind,
    name: string,
    qualified: string | null,
    columns: ICatalogColumn[] | null
  ): HTMLLIElement {
    const item = el('li', `pysk-tree-item pysk-entry-${kind}`);
    item.dataset.kind = kind;
    item.dataset.name = name;
    const expanded = this._expanded.has(`${kind}:${name}`);
    const toggle = el(
      'button',
      'pysk-tree-toggle',
      expanded ? '\u25be' : '\u25b8'
    );
    toggle.type = 'button';
    toggle.setAttribute('aria-expanded', String(expanded));
    toggle.setAttribute(
      'aria-label',
      `${expanded ? 'hide' : 'show'} the columns of ${name}`
    );
    toggle.addEventListener('click', () => this.toggle(kind, name));
    item.appendChild(toggle);
    if (qualified !== null) {
      const label = el('button', 'pysk-tree-name', name);
      label.type = 'button';
      label.title = `insert a %%sql cell selecting from ${qualified}`;
      label.addEventListener('click', () => {
        if (this._panel) {
          this._options.insertBelow(this._panel, selectCell(qualified));
        }
      });
      item.appendChild(label);
    } else {
      item.appendChild(el('span', 'pysk-tree-name', name));
    }
    if (columns !== null) {
      item.appendChild(
        el('span', 'pysk-tree-note', plural(columns.length, 'column'))
      );
    }
    if (!expanded) {
      return item;
    }
    if (columns === null) {
      columns = this._tableColumns(name, qualified!);
      if (columns === null) {
        const known = this._columns.get(name);
        item.appendChild(
          el(
            'div',
            typeof known === 'string' && known !== LOADING
              ? 'pysk-tree-error'
              : 'pysk-tree-loading',
            typeof known === 'string' && known !== LOADING
              ? known
              : 'reading the columns\u2026'
          )
        );
        return item;
      }
    }
    item.appendChild(columnList(columns));
    return item;
  }

  /**
   * A table's columns if known; else asked for (and `null` meanwhile).
   */
  private _tableColumns(
    name: string,
    qualified: string
  ): ICatalogColumn[] | null {
    const known = this._columns.get(name);
    if (Array.isArray(known)) {
      return known;
    }
    if (known === undefined && this._channel?.isOpen) {
      this._columns.set(name, LOADING);
      const channel = this._channel;
      void channel.request('catalog', { table: name }).then(reply => {
        if (channel !== this._channel || this._columns.get(name) !== LOADING) {
          return;
        }
        const columns = (reply as ICatalogMessage).columns;
        this._columns.set(
          name,
          reply.ok && Array.isArray(columns)
            ? columns
            : (reply.error ?? `cannot read the columns of ${qualified}`)
        );
        this._render();
      });
    }
    return null;
  }

  private _options: IDataBrowserOptions;
  private _panel: NotebookPanel | null = null;
  private _channel: SparkChannel | null = null;
  private _refresh: HTMLButtonElement;
  private _state: HTMLDivElement;
  private _tree: HTMLDivElement;
  private _asked: SparkChannel | null = null;
  private _expanded = new Set<string>();
  private _columns = new Map<string, ICatalogColumn[] | string>();
}

const LOADING = '\u2026';

/**
 * Columns with their types, struct fields nested.
 */
function columnList(columns: ICatalogColumn[]): HTMLUListElement {
  const list = el('ul', 'pysk-tree-columns');
  for (const column of columns) {
    const item = el('li', 'pysk-tree-column');
    item.dataset.column = column.name;
    item.append(
      el('span', 'pysk-column-name', column.name),
      el('span', 'pysk-column-type', column.type)
    );
    if (column.fields && column.fields.length) {
      item.appendChild(columnList(column.fields));
    }
    list.appendChild(item);
  }
  return list;
}
