/**
 * `%%sql` cells highlighted as Spark SQL, the rest of the notebook as it is.
 *
 * JupyterLab 4's cell editor takes its language from the cell model's
 * `mimeType`, through the editor language registry; the notebook sets every
 * code cell's mime type from the kernel's language (on insert and when the
 * kernel changes). So each notebook's code cells are followed: a cell whose
 * source starts with `%%sql` gets the Spark SQL mime type, again whenever
 * the notebook resets it, and gives it back once it no longer starts so.
 * Nothing is saved in the notebook.
 */
import type { ICellModel } from '@jupyterlab/cells';
import type { CodeEditor } from '@jupyterlab/codeeditor';
import type { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import type { DocumentRegistry } from '@jupyterlab/docregistry';
import type { INotebookModel, NotebookPanel } from '@jupyterlab/notebook';
import type { IDisposable } from '@lumino/disposable';
import type { ISignal } from '@lumino/signaling';

/**
 * Mime type of Spark SQL in the editor language registry.
 */
export const SPARK_SQL_MIME_TYPE = 'text/x-sparksql';

/**
 * Whether a cell's source is a `%%sql` cell (blank lines may come first,
 * as IPython allows).
 */
export function isSqlCell(source: string): boolean {
  return /^(?:[ \t]*\r?\n)*%%sql(?:[ \t\r\n]|$)/.test(source);
}

/**
 * Add Spark SQL to the editor language registry (loaded when first used).
 */
export function registerSparkSql(languages: IEditorLanguageRegistry): void {
  languages.addLanguage({
    name: 'Spark SQL',
    displayName: 'Spark SQL',
    mime: SPARK_SQL_MIME_TYPE,
    extensions: [],
    load: async () => (await import('./sparksql')).sparkSql()
  });
}

/**
 * The part of a notebook widget followed.
 */
export interface ISqlNotebook {
  readonly model: {
    readonly cells: {
      readonly length: number;
      get(index: number): ICellModel;
      readonly changed: ISignal<
        any,
        {
          newValues: ReadonlyArray<ICellModel>;
          oldValues: ReadonlyArray<ICellModel>;
        }
      >;
    };
  } | null;
  readonly modelChanged: ISignal<any, void>;
  /** The mime type of the notebook's code cells (its kernel's language). */
  readonly codeMimetype: string;
}

/**
 * Keeps the `%%sql` cells of one notebook on the Spark SQL mime type.
 */
export class SqlCells implements IDisposable {
  constructor(notebook: ISqlNotebook) {
    this._notebook = notebook;
    notebook.modelChanged.connect(this._onModel, this);
    this._onModel();
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._notebook.modelChanged.disconnect(this._onModel, this);
    this._followCells(null);
  }

  private _onModel(): void {
    this._followCells(this._notebook.model?.cells ?? null);
  }

  private _followCells(
    cells: NonNullable<ISqlNotebook['model']>['cells'] | null
  ): void {
    if (this._cells) {
      this._cells.changed.disconnect(this._onCellsChanged, this);
      for (const cell of Array.from(this._followed)) {
        this._unfollow(cell);
      }
    }
    this._cells = cells;
    if (cells) {
      cells.changed.connect(this._onCellsChanged, this);
      for (let i = 0; i < cells.length; i++) {
        this._follow(cells.get(i));
      }
    }
  }

  private _onCellsChanged(
    _: unknown,
    change: {
      newValues: ReadonlyArray<ICellModel>;
      oldValues: ReadonlyArray<ICellModel>;
    }
  ): void {
    for (const cell of change.oldValues) {
      this._unfollow(cell);
    }
    for (const cell of change.newValues) {
      this._follow(cell);
    }
  }

  private _follow(cell: ICellModel): void {
    if (cell.type !== 'code' || this._followed.has(cell)) {
      return;
    }
    this._followed.add(cell);
    cell.contentChanged.connect(this._apply, this);
    cell.mimeTypeChanged.connect(this._apply, this);
    this._apply(cell);
  }

  private _unfollow(cell: ICellModel): void {
    if (!this._followed.delete(cell)) {
      return;
    }
    cell.contentChanged.disconnect(this._apply, this);
    cell.mimeTypeChanged.disconnect(this._apply, this);
  }

  /**
   * Give a cell the mime type its source asks for.
   */
  private _apply(sender: ICellModel | CodeEditor.IModel): void {
    const cell = sender as ICellModel;
    if (cell.isDisposed) {
      this._unfollow(cell);
      return;
    }
    const sql = isSqlCell(cell.sharedModel.getSource());
    if (sql && cell.mimeType !== SPARK_SQL_MIME_TYPE) {
      cell.mimeType = SPARK_SQL_MIME_TYPE;
    } else if (!sql && cell.mimeType === SPARK_SQL_MIME_TYPE) {
      cell.mimeType = this._notebook.codeMimetype;
    }
  }

  private _notebook: ISqlNotebook;
  private _cells: NonNullable<ISqlNotebook['model']>['cells'] | null = null;
  private _followed = new Set<ICellModel>();
  private _disposed = false;
}

/**
 * Follows the `%%sql` cells of every notebook panel.
 */
export class SqlCellsExtension implements DocumentRegistry.IWidgetExtension<
  NotebookPanel,
  INotebookModel
> {
  createNew(panel: NotebookPanel): IDisposable {
    return new SqlCells(panel.content);
  }
}
