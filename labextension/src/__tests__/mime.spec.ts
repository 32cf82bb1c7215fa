import extensions, { RENDERER_RANK, rendererFactories } from '../mime';
import {
  PROGRESS_MIME_TYPE,
  STREAM_MIME_TYPE,
  TABLE_MIME_TYPE
} from '../types';

describe('mime extension', () => {
  it('registers one safe renderer per mime type, ranked above text/html', () => {
    expect(extensions.map(e => e.id)).toEqual([
      'pyspark-kernel-lab:table',
      'pyspark-kernel-lab:progress',
      'pyspark-kernel-lab:stream'
    ]);
    expect(extensions.map(e => e.rendererFactory.mimeTypes)).toEqual([
      [TABLE_MIME_TYPE],
      [PROGRESS_MIME_TYPE],
      [STREAM_MIME_TYPE]
    ]);
    for (const extension of extensions) {
      expect(extension.rendererFactory.safe).toBe(true);
      expect(extension.dataType).toBe('json');
      // JupyterLab ranks text/html at 50; a lower rank wins.
      expect(extension.rank).toBe(RENDERER_RANK);
      expect(RENDERER_RANK).toBeLessThan(50);
    }
  });

  it('makes the same renderers for a notebook, with its context', () => {
    expect(rendererFactories().map(f => f.mimeTypes)).toEqual(
      extensions.map(e => e.rendererFactory.mimeTypes)
    );
  });
});
