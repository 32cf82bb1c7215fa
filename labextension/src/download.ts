/**
 * Download of a whole result (the kernel's `export` op): Spark writes one
 * CSV or Parquet file, the kernel sends it in chunks of binary buffers, and
 * the chunks become one Blob saved by the browser's download.
 */
import { formatBytes } from './format';
import type { TableRows } from './rows';
import type { ExportFormat, IExportReply } from './types';

/**
 * Mime types of the downloaded files.
 */
export const EXPORT_TYPES: { [format in ExportFormat]: string } = {
  csv: 'text/csv',
  parquet: 'application/vnd.apache.parquet'
};

/**
 * Progress of a download, for the line that shows it.
 */
export interface IDownloadProgress {
  /** What is happening, in words. */
  text: string;
  /** Share received, 0..1; `null` while Spark writes the file. */
  fraction: number | null;
}

/**
 * A finished (or failed) download.
 */
export type DownloadResult =
  | { ok: true; fileName: string; size: number; blob: Blob }
  | { ok: false; error: string };

/**
 * Chunks received in any order, put together in order.
 */
export class ChunkAssembler {
  /**
   * Take chunk `index` of `count`.
   */
  add(index: number, count: number, buffers: DataView[]): void {
    this.count = count;
    this._chunks.set(index, buffers);
  }

  /**
   * How many chunks the file has (0 before the first).
   */
  count = 0;

  /**
   * Chunks received so far.
   */
  get received(): number {
    return this._chunks.size;
  }

  /**
   * Bytes received so far.
   */
  get bytes(): number {
    let n = 0;
    for (const buffers of this._chunks.values()) {
      for (const b of buffers) {
        n += b.byteLength;
      }
    }
    return n;
  }

  /**
   * The file as a Blob, or why it is incomplete.
   */
  blob(chunks: number, size: number, type: string): Blob | string {
    const parts: DataView[] = [];
    for (let i = 0; i < chunks; i++) {
      const buffers = this._chunks.get(i);
      if (!buffers) {
        return `chunk ${i + 1} of ${chunks} is missing`;
      }
      parts.push(...buffers);
    }
    const blob = new Blob(parts as BlobPart[], { type });
    if (blob.size !== size) {
      return `received ${formatBytes(blob.size)} of ${formatBytes(size)}`;
    }
    return blob;
  }

  private _chunks = new Map<number, DataView[]>();
}

/**
 * Ask the kernel for the whole result as a file, reporting progress.
 */
export async function exportResult(
  rows: TableRows,
  format: ExportFormat,
  onProgress: (progress: IDownloadProgress) => void
): Promise<DownloadResult> {
  const chunks = new ChunkAssembler();
  onProgress({
    text: `Spark is writing the result as ${format.toUpperCase()}\u2026`,
    fraction: null
  });
  const reply = await rows.ask(
    'export',
    { format },
    {
      onPart: (part, buffers) => {
        const index = Number(part.chunk);
        const count = Number(part.chunks);
        const size = Number(part.size);
        if (!Number.isInteger(index) || !Number.isInteger(count)) {
          return;
        }
        chunks.add(index, count, buffers);
        onProgress({
          text: `receiving ${formatBytes(chunks.bytes)} of ${formatBytes(size)}`,
          fraction: size > 0 ? Math.min(1, chunks.bytes / size) : 1
        });
      }
    }
  );
  if (!reply.ok) {
    return { ok: false, error: reply.error ?? 'the kernel could not export' };
  }
  const done = reply as IExportReply;
  const blob = chunks.blob(
    done.chunks,
    done.size,
    EXPORT_TYPES[done.format] ?? 'application/octet-stream'
  );
  if (typeof blob === 'string') {
    return { ok: false, error: `the download is incomplete: ${blob}` };
  }
  return { ok: true, fileName: done.file_name, size: done.size, blob };
}

/**
 * Hand a Blob to the browser's download, as `fileName`.
 */
export function saveBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.hidden = true;
  document.body.appendChild(a);
  try {
    a.click();
  } finally {
    a.remove();
    // The download has its own reference to the data once it started.
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }
}
