import * as fs from 'fs';
import * as path from 'path';

import { isChannelMessage, readStatus } from '../channel';
import {
  ICatalog,
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
  result_id: true
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
  error: true
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
      if (name === 'stopStreamRequest') {
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
});
