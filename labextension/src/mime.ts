/**
 * The mime renderer extension: one renderer per pyspark-kernel mime type.
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';

import { progressRendererFactory } from './progress';
import { streamRendererFactory } from './stream';
import { tableRendererFactory } from './table';

/**
 * Rank of our renderers: below `text/html` (50) and `text/plain` (120), so
 * they win in bundles that carry those fallbacks too.
 */
export const RENDERER_RANK = 0;

const extensions: IRenderMime.IExtension[] = [
  {
    id: 'pyspark-kernel-lab:table',
    description: 'Renders Spark DataFrame previews from pyspark-kernel.',
    rendererFactory: tableRendererFactory,
    rank: RENDERER_RANK,
    dataType: 'json'
  },
  {
    id: 'pyspark-kernel-lab:progress',
    description: 'Renders the Spark job progress of a pyspark-kernel cell.',
    rendererFactory: progressRendererFactory,
    rank: RENDERER_RANK,
    dataType: 'json'
  },
  {
    id: 'pyspark-kernel-lab:stream',
    description: 'Renders the live status of a Spark streaming query.',
    rendererFactory: streamRendererFactory,
    rank: RENDERER_RANK,
    dataType: 'json'
  }
];

export default extensions;
