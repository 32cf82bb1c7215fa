/**
 * DOM helpers shared by the renderers and the status bar item: elements with
 * text (never markup) and links that only go where a link may go.
 */
import { sparkUiHref } from './links';

/**
 * A new element with an optional class and text.
 */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/**
 * The href of a Spark UI link from a kernel, or `null` when it must not be a
 * link: `http(s)://…`, or this server's Spark UI proxy (see `links.ts`). The
 * payloads may come from a notebook someone else wrote.
 */
export function safeHref(url: string | null | undefined): string | null {
  return sparkUiHref(url);
}

/**
 * A link opening in a new tab; without `href` when the URL is not safe.
 */
export function link(
  href: string | null | undefined,
  text: string,
  className: string
): HTMLAnchorElement {
  const a = el('a', className, text);
  const safe = safeHref(href);
  if (safe) {
    a.href = safe;
  }
  a.target = '_blank';
  a.rel = 'noopener noreferrer';
  return a;
}
