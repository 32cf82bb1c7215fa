import * as fs from 'fs';
import * as path from 'path';

import { isChannelMessage, readStatus } from '../channel';
import { SPARK_STATUS_FIELDS } from '../types';
import { channelFixtures } from './helpers';

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

describe('types.ts and docs/channel.md', () => {
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
