/**
 * The JupyterLab plugin: one kernel channel per notebook, given to that
 * notebook's renderers; the Spark status bar item; `%%sql` cells highlighted
 * as Spark SQL; the Spark data browser and the notebook runs panel in the
 * left area. The renderers for outputs outside notebooks are in the mime
 * extension (`mime.ts`).
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import {
  INotebookTracker,
  NotebookActions,
  NotebookPanel
} from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { LabIcon } from '@jupyterlab/ui-components';

import { DataBrowser } from './browser';
import { NotebookChannels } from './notebooks';
import { RunsClient, RunsPanel } from './runs';
import { LabSettings } from './settings';
import { registerSparkSql, SqlCellsExtension } from './sqlcells';
import { SparkStatusFollower, SparkStatusItem } from './status';

/**
 * Id of the plugin, and of its settings (`schema/plugin.json`).
 */
export const PLUGIN_ID = 'pyspark-kernel-lab:plugin';

/**
 * The data browser's icon: a database.
 */
export const sparkDataIcon = new LabIcon({
  name: 'pyspark-kernel-lab:spark-data',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
    '<g class="jp-icon3" fill="#616161"><path d="M12 2C7.6 2 4 3.6 4 5.5v13' +
    'C4 20.4 7.6 22 12 22s8-1.6 8-3.5v-13C20 3.6 16.4 2 12 2zm0 2c3.6 0 6 ' +
    '1.2 6 1.5S15.6 7 12 7 6 5.8 6 5.5 8.4 4 12 4zM6 8.3C7.5 8.8 9.6 9 12 9' +
    's4.5-.2 6-.7V12c0 .3-2.4 1.5-6 1.5S6 12.3 6 12V8.3zm0 6.5c1.5.5 3.6.7 ' +
    '6 .7s4.5-.2 6-.7v3.7c0 .3-2.4 1.5-6 1.5s-6-1.2-6-1.5v-3.7z"/></g></svg>'
});

/**
 * The runs panel's icon: a list with a play mark.
 */
export const runsIcon = new LabIcon({
  name: 'pyspark-kernel-lab:runs',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
    '<g class="jp-icon3" fill="#616161"><path d="M3 5h12v2H3zm0 4h12v2H3zm0 ' +
    '4h8v2H3zm11 0v8l6-4z"/></g></svg>'
});

/**
 * Command starting a run of the current notebook on the server.
 */
export const RUN_NOTEBOOK_COMMAND = 'pyspark-kernel-lab:run-notebook';

/**
 * Insert a cell holding `text` below the active cell of a notebook, and
 * make it the active cell.
 */
function insertBelow(
  app: JupyterFrontEnd,
  panel: NotebookPanel,
  text: string
): void {
  const notebook = panel.content;
  NotebookActions.insertBelow(notebook);
  notebook.activeCell?.model.sharedModel.setSource(text);
  app.shell.activateById(panel.id);
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Connects PySpark notebooks to their kernel over the pyspark-kernel.v1 channel: tables over the whole result, charts, live stream displays, the Spark status bar item, Spark SQL cells, the Spark data browser and the notebook runs panel.',
  autoStart: true,
  requires: [INotebookTracker],
  // Optional so that front ends without a status bar (Notebook 7's notebook
  // page), settings or a layout restorer still load the rest.
  optional: [
    ISettingRegistry,
    IStatusBar,
    IEditorLanguageRegistry,
    ILayoutRestorer,
    ICommandPalette
  ],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    registry: ISettingRegistry | null,
    statusBar: IStatusBar | null,
    languages: IEditorLanguageRegistry | null,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null
  ): void => {
    const settings = new LabSettings();
    registry
      ?.load(PLUGIN_ID)
      .then(loaded => {
        settings.update(loaded.composite);
        loaded.changed.connect(() => settings.update(loaded.composite));
      })
      .catch(reason => {
        console.warn('pyspark-kernel-lab: settings not loaded', reason);
      });

    const channels = new NotebookChannels(settings);
    app.docRegistry.addWidgetExtension('Notebook', channels);

    if (languages) {
      registerSparkSql(languages);
      app.docRegistry.addWidgetExtension('Notebook', new SqlCellsExtension());
    }

    const browser = new DataBrowser({
      tracker,
      channelOf: panel => channels.channelOf(panel),
      insertBelow: (panel, text) => insertBelow(app, panel, text)
    });
    browser.title.icon = sparkDataIcon;
    app.shell.add(browser, 'left', { rank: 600 });
    restorer?.add(browser, browser.id);

    const runs = new RunsPanel({
      client: new RunsClient(app.serviceManager.serverSettings),
      currentPath: () => tracker.currentWidget?.context.path ?? null,
      saveCurrent: async () => {
        const context = tracker.currentWidget?.context;
        if (context?.model.dirty) {
          await context.save();
        }
      },
      open: path => void app.commands.execute('docmanager:open', { path })
    });
    runs.title.icon = runsIcon;
    app.shell.add(runs, 'left', { rank: 610 });
    restorer?.add(runs, runs.id);
    app.commands.addCommand(RUN_NOTEBOOK_COMMAND, {
      label: 'Run Notebook on the Server (PySpark)',
      caption:
        'run the current notebook on a kernel of its own; follow it in the Notebook runs panel',
      isEnabled: () => tracker.currentWidget !== null,
      execute: async () => {
        app.shell.activateById(runs.id);
        await runs.runCurrent();
      }
    });
    palette?.addItem({
      command: RUN_NOTEBOOK_COMMAND,
      category: 'Notebook Operations'
    });

    if (statusBar) {
      const item = new SparkStatusItem();
      const follower = new SparkStatusFollower({
        tracker,
        channelOf: panel => channels.channelOf(panel),
        item,
        settings
      });
      statusBar.registerStatusItem(`${PLUGIN_ID}-status`, {
        item,
        align: 'left',
        rank: 5,
        isActive: () => follower.isActive,
        activeStateChanged: follower.activeStateChanged
      });
    }
  }
};

export default plugin;
