import { sparkUiHref } from '../links';

const ID = '0b3c3a5e-8d1f-4c1e-9d55-2f7c6a1e9a10';

describe('sparkUiHref', () => {
  it('keeps http(s) addresses', () => {
    expect(sparkUiHref('http://127.0.0.1:4040')).toBe('http://127.0.0.1:4040');
    expect(sparkUiHref('https://spark.example/x')).toBe(
      'https://spark.example/x'
    );
  });

  it('keeps paths of the Spark UI proxy on this server', () => {
    const prefix = `/user/alice/pyspark-kernel/sparkui/${ID}`;
    expect(sparkUiHref(prefix)).toBe(prefix);
    expect(sparkUiHref(`${prefix}/jobs/job/?id=3`)).toBe(
      `${prefix}/jobs/job/?id=3`
    );
    expect(sparkUiHref(`/pyspark-kernel/sparkui/${ID}/`)).toBe(
      `/pyspark-kernel/sparkui/${ID}/`
    );
  });

  it('refuses everything else', () => {
    for (const url of [
      null,
      undefined,
      '',
      'javascript:alert(1)',
      'data:text/html,x',
      '/user/alice/api/shutdown',
      `//evil.example/pyspark-kernel/sparkui/${ID}/`,
      `/user/alice/pyspark-kernel/sparkui/${ID}/../../../api/contents`,
      `/user/alice/pyspark-kernel/sparkui/not-a-kernel-id/`,
      `pyspark-kernel/sparkui/${ID}/`,
      `/\\evil.example/pyspark-kernel/sparkui/${ID}/`
    ]) {
      expect(sparkUiHref(url)).toBeNull();
    }
  });
});
