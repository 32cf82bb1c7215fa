import * as fs from 'fs';
import * as path from 'path';

import { isChannelMessage, readStatus } from '../channel';
import {
  CHART_AGGS,
  CHART_KINDS,
  FILTER_OPS,
  ICatalog,
  IChartData,
  IChartReply,
  IColumnProfile,
  IExportChunk,
  IExportReply,
  IPageReply,
  IProgressPayload,
  IStreamPayload,
  ITablePayload,
  SPARK_STATUS_FIELDS
} from '../types';
import { channelFixtures, fixtures } from './helpers';

// Every field of each interface, checked by the compiler both ways.
type Fields<T> = { [K in keyof T]-?: true };
const TABLE: Fields<ITablePayload> = {
  version: true,
  columns: true,
  rows: true,
  truncated: true,
  max_rows: true,
  row_count: true,
  cut: true,
  source: true,
  view_name: true,
  parquet_path: true,
  variable_name: true,
  streaming: true,
  result_id: true,
  deferred: true
};
const PROGRESS: Fields<IProgressPayload> = {
  version: true,
  state: true,
  elapsed_ms: true,
  ui_url: true,
  jobs: true,
  totals: true
};
const STREAM: Fields<IStreamPayload> = {
  version: true,
  id: true,
  run_id: true,
  name: true,
  state: true,
  message: true,
  batch_id: true,
  num_input_rows: true,
  input_rows_per_second: true,
  processed_rows_per_second: true,
  batch_duration_ms: true,
  watermark: true,
  state_rows: true,
  sources: true,
  sink: true,
  history: true,
  error: true,
  ui_url: true
};
const CATALOG: Fields<ICatalog> = {
  ready: true,
  current_database: true,
  databases: true,
  temp_views: true,
  global_database: true,
  global_views: true,
  dataframes: true
};

const REPLY = { op: true, id: true, ok: true } as const;
const PAGE: Fields<Omit<IPageReply, 'push' | 'error'>> = {
  ...REPLY,
  result_id: true,
  columns: true,
  rows: true,
  cut: true,
  offset: true,
  limit: true,
  has_more: true
};
const CHART: Fields<Omit<IChartReply, 'push' | 'error'>> = {
  ...REPLY,
  result_id: true,
  chart: true
};
const CHART_DATA: Fields<IChartData> = {
  kind: true,
  x: true,
  x_type: true,
  y: true,
  agg: true,
  color: true,
  rows: true,
  groups: true,
  shown_groups: true,
  other: true,
  computed_over: true
};
const PROFILE_COLUMN: Fields<IColumnProfile> = {
  name: true,
  type: true,
  count: true,
  null_share: true,
  distinct: true,
  min: true,
  max: true,
  mean: true,
  histogram: true,
  top: true
};
const EXPORT_CHUNK: Fields<IExportChunk> = {
  op: true,
  id: true,
  chunk: true,
  chunks: true,
  size: true
};
const EXPORT_REPLY: Fields<Omit<IExportReply, 'push' | 'error'>> = {
  ...REPLY,
  result_id: true,
  file_name: true,
  format: true,
  size: true,
  chunks: true
};

function sameKeys(value: object, fields: object): void {
  expect(Object.keys(value).sort()).toEqual(Object.keys(fields).sort());
}

const DOCS = path.resolve(__dirname, '../../../docs/channel.md');

/**
 * The first column of the markdown table whose header cell is `header`.
 */
function tableFields(markdown: string, header: string): string[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex(l => l.startsWith(`| ${header} |`));
  expect(start).toBeGreaterThan(-1);
  const fields: string[] = [];
  for (const line of lines.slice(start + 2)) {
    const match = /^\| `([a-z_]+)` \|/.exec(line);
    if (!match) {
      break;
    }
    fields.push(match[1]);
  }
  return fields;
}

describe('types.ts, the docs and the fixtures', () => {
  it('knows every status field the docs and the fixtures have', () => {
    const documented = tableFields(
      fs.readFileSync(DOCS, 'utf-8'),
      'field of `status`'
    );
    expect([...SPARK_STATUS_FIELDS]).toEqual(documented);
    for (const message of [
      channelFixtures.statusReply(),
      channelFixtures.statusPushStarting()
    ]) {
      expect(Object.keys(message.status)).toEqual(documented);
      expect(readStatus(message.status)).toEqual(message.status);
    }
  });

  it('reads every fixture reply and push as a channel message', () => {
    for (const [name, make] of Object.entries(channelFixtures)) {
      const message = make() as unknown;
      // Requests, and the parts of a chunked reply, have no `ok`.
      if (['stopStreamRequest', 'pageRequest', 'exportChunk'].includes(name)) {
        expect(isChannelMessage(message)).toBe(false);
        continue;
      }
      expect(isChannelMessage(message)).toBe(true);
    }
  });

  it('has the fields of every payload and catalog fixture', () => {
    sameKeys(fixtures.tableBasic(), TABLE);
    sameKeys(fixtures.tableNested(), TABLE);
    sameKeys(fixtures.tableStreaming(), TABLE);
    sameKeys(fixtures.progressRunning(), PROGRESS);
    sameKeys(fixtures.progressDone(), PROGRESS);
    sameKeys(fixtures.streamActive(), STREAM);
    sameKeys(fixtures.streamFailed(), STREAM);
    for (const query of channelFixtures.streamsPush().queries) {
      sameKeys(query, STREAM);
    }
    sameKeys(channelFixtures.catalogReply().catalog!, CATALOG);
  });

  it('reads a status with missing fields as null ones', () => {
    expect(readStatus({ state: 'starting' })).toEqual({
      state: 'starting',
      master: null,
      remote: false,
      app_id: null,
      ui_url: null,
      version: null,
      error: null
    });
    expect(readStatus({ master: 'local[*]' })).toBeNull();
  });

  it('has the fields of the page, chart, profile and export replies', () => {
    sameKeys(channelFixtures.pageReply(), PAGE);
    sameKeys(channelFixtures.chartReply(), CHART);
    sameKeys(channelFixtures.chartReply().chart, CHART_DATA);
    for (const column of channelFixtures.profileReply().profile.columns) {
      for (const key of Object.keys(column)) {
        expect(PROFILE_COLUMN).toHaveProperty(key);
      }
    }
    sameKeys(channelFixtures.exportChunk(), EXPORT_CHUNK);
    sameKeys(channelFixtures.exportReply(), EXPORT_REPLY);
    expect(isChannelMessage(channelFixtures.exportChunk())).toBe(false);
  });

  it('knows the filter operators, chart kinds and aggregations the docs list', () => {
    const docs = fs.readFileSync(DOCS, 'utf-8').replace(/\s+/g, ' ');
    const listed = (text: string) =>
      Array.from(text.matchAll(/`([a-z_]+)`/g), m => m[1]);
    const ops = /`op` is (.*?) \(case-insensitive\), (.*?)\./.exec(docs)!;
    expect(listed(ops[1] + ops[2])).toEqual([...FILTER_OPS]);
    const kinds = /`kind` \((.*?)\)/.exec(docs)!;
    expect(listed(kinds[1])).toEqual([...CHART_KINDS]);
    const aggs = /`agg` \((.*?)\)/.exec(docs)!;
    expect(listed(aggs[1])).toEqual([...CHART_AGGS]);
  });
});
