import schema from '../../schema/plugin.json';
import { DEFAULT_SETTINGS, LabSettings, readSettings } from '../settings';

describe('settings', () => {
  it('has the defaults the schema states', () => {
    const p = schema.properties;
    expect(readSettings({})).toEqual(DEFAULT_SETTINGS);
    expect(
      readSettings({
        pageSize: p.pageSize.default,
        requestTimeout: p.requestTimeout.default,
        resultTimeout: p.resultTimeout.default,
        chartGroups: p.chartGroups.default,
        statusBar: p.statusBar.default
      })
    ).toEqual(DEFAULT_SETTINGS);
    expect(Object.keys(p).sort()).toEqual([
      'chartGroups',
      'pageSize',
      'requestTimeout',
      'resultTimeout',
      'statusBar'
    ]);
  });

  it('takes valid values and falls back on bad ones', () => {
    expect(
      readSettings({
        pageSize: 200,
        requestTimeout: 2.5,
        resultTimeout: 1200,
        chartGroups: 7,
        statusBar: false
      })
    ).toEqual({
      pageSize: 200,
      requestTimeoutMs: 2500,
      resultTimeoutMs: 1_200_000,
      chartGroups: 7,
      statusBar: false
    });
    expect(
      readSettings({
        pageSize: 0,
        requestTimeout: '5',
        resultTimeout: 0,
        chartGroups: 501,
        statusBar: 'no'
      })
    ).toEqual(DEFAULT_SETTINGS);
    expect(readSettings({ pageSize: 10.5 }).pageSize).toBe(50);
    expect(readSettings(null)).toEqual(DEFAULT_SETTINGS);
  });

  it('tells when the values change', () => {
    const settings = new LabSettings();
    const seen: number[] = [];
    settings.changed.connect(() => seen.push(settings.current.pageSize));
    expect(settings.current).toEqual(DEFAULT_SETTINGS);
    settings.update({ pageSize: 10 });
    expect(seen).toEqual([10]);
  });
});
