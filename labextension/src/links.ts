/**
 * Which Spark UI links from a kernel become clickable. Kernel payloads may come
 * from an untrusted notebook, so only two kinds of URL are linked: http(s)
 * addresses (a kernel run outside a Jupyter server shows its Spark UI's own
 * address) and this page's server's Spark UI proxy,
 * `{base_url}pyspark-kernel/sparkui/{kernel_id}/...` (a kernel started by a
 * Jupyter server with pyspark-kernel's server extension).
 */

const PROXIED_SPARK_UI =
  /\/pyspark-kernel\/sparkui\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(\/|$)/;

/**
 * The href for a Spark UI `url` from a kernel, or null when it must not be a link.
 */
export function sparkUiHref(url: string | null | undefined): string | null {
  if (!url) {
    return null;
  }
  if (/^https?:\/\//i.test(url)) {
    return url;
  }
  if (!url.startsWith('/') || url.startsWith('//') || url.includes('\\')) {
    return null;
  }
  const here = window.location;
  const resolved = new URL(url, here.href);
  if (
    resolved.origin !== here.origin ||
    !PROXIED_SPARK_UI.test(resolved.pathname)
  ) {
    return null;
  }
  return resolved.pathname + resolved.search + resolved.hash;
}
