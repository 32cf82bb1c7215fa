/**
 * The mime renderer extension: one renderer per pyspark-kernel mime type,
 * showing payloads as saved. In a notebook the lab plugin (`index.ts`)
 * replaces them with renderers that know the notebook's kernel channel.
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';

import { progressRendererFactory } from './progress';
import type { IRendererContext } from './rendered';
import { streamRendererFactory } from './stream';
import { tableRendererFactory } from './table';

/**
 * Rank of our renderers: below `text/html` (50) and `text/plain` (120), so
 * they win in bundles that carry those fallbacks too.
 */
export const RENDERER_RANK = 0;

/**
 * The three renderer factories, sharing one context.
 */
export function rendererFactories(
  context: IRendererContext = {}
): IRenderMime.IRendererFactory[] {
  return [
    tableRendererFactory(context),
    progressRendererFactory(context),
    streamRendererFactory(context)
  ];
}

const [table, progress, stream] = rendererFactories();

const extensions: IRenderMime.IExtension[] = [
  {
    id: 'pyspark-kernel-lab:table',
    description: 'Renders Spark DataFrame previews from pyspark-kernel.',
    rendererFactory: table,
    rank: RENDERER_RANK,
    dataType: 'json'
  },
  {
    id: 'pyspark-kernel-lab:progress',
    description: 'Renders the Spark job progress of a pyspark-kernel cell.',
    rendererFactory: progress,
    rank: RENDERER_RANK,
    dataType: 'json'
  },
  {
    id: 'pyspark-kernel-lab:stream',
    description: 'Renders the live status of a Spark streaming query.',
    rendererFactory: stream,
    rank: RENDERER_RANK,
    dataType: 'json'
  }
];

export default extensions;
