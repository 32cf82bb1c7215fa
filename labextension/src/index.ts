/**
 * The JupyterLab plugin: one kernel channel per notebook, given to that
 * notebook's renderers; the Spark status bar item; `%%sql` cells highlighted
 * as Spark SQL. The renderers for
 * outputs outside notebooks are in the mime extension (`mime.ts`).
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';

import { NotebookChannels } from './notebooks';
import { LabSettings } from './settings';
import { registerSparkSql, SqlCellsExtension } from './sqlcells';
import { SparkStatusFollower, SparkStatusItem } from './status';

/**
 * Id of the plugin, and of its settings (`schema/plugin.json`).
 */
export const PLUGIN_ID = 'pyspark-kernel-lab:plugin';

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Connects PySpark notebooks to their kernel over the pyspark-kernel.v1 channel: tables over the whole result, charts, live stream displays, the Spark status bar item; Spark SQL cells.',
  autoStart: true,
  requires: [INotebookTracker],
  // Optional so that front ends without a status bar (Notebook 7's notebook
  // page), settings or an editor language registry still load the rest.
  optional: [ISettingRegistry, IStatusBar, IEditorLanguageRegistry],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    registry: ISettingRegistry | null,
    statusBar: IStatusBar | null,
    languages: IEditorLanguageRegistry | null
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
