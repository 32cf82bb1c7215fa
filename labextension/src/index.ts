/**
 * The JupyterLab plugins: Stop requests from stream displays, and the Spark
 * status bar item. The renderers are in the mime extension (`mime.ts`).
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { IStatusBar } from '@jupyterlab/statusbar';

import { SparkStatusItem, SparkStatusPoller } from './status';
import { listenForStopRequests } from './stop';

/**
 * Runs a stream display's stop code on the kernel of the notebook holding it.
 */
const stopStreamPlugin: JupyterFrontEndPlugin<void> = {
  id: 'pyspark-kernel-lab:stop-stream',
  description:
    'Runs the stop code of a streaming query display on the kernel of its notebook.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker): void => {
    listenForStopRequests(tracker, document);
  }
};

/**
 * Shows `Spark: <state> · <master>` for notebooks on a PySpark kernel.
 *
 * The status bar is optional so that front ends without one (Notebook 7's
 * notebook page) load the rest of the extension without an error.
 */
const statusPlugin: JupyterFrontEndPlugin<void> = {
  id: 'pyspark-kernel-lab:status',
  description: 'Shows the SparkSession state of the current PySpark notebook.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [IStatusBar],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    statusBar: IStatusBar | null
  ): void => {
    if (!statusBar) {
      return;
    }
    const item = new SparkStatusItem();
    const poller = new SparkStatusPoller({
      tracker,
      executed: NotebookActions.executed,
      item
    });
    statusBar.registerStatusItem('pyspark-kernel-lab:status', {
      item,
      align: 'left',
      rank: 5,
      isActive: () => poller.isActive,
      activeStateChanged: poller.activeStateChanged
    });
  }
};

const plugins: JupyterFrontEndPlugin<void>[] = [stopStreamPlugin, statusPlugin];

export default plugins;
