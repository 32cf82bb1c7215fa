/**
 * A column's profile (the kernel's `profile` op, two aggregations over the
 * whole result) as a small block for the column's header: null share,
 * approximate distinct count, min/max/mean, and a histogram (numbers) or
 * the most frequent values (strings, booleans).
 */
import { el } from './dom';
import { formatCount, formatValue, parseSparkType } from './format';
import type { IColumnProfile, IHistogramBin } from './types';

const SVG = 'http://www.w3.org/2000/svg';

/**
 * A share as a percentage: `0%`, `0.4%`, `12%`, `100%`.
 */
export function formatShare(share: number): string {
  if (share <= 0) {
    return '0%';
  }
  if (share >= 1) {
    return '100%';
  }
  const percent = share * 100;
  return percent < 10 ? `${percent.toFixed(1)}%` : `${Math.round(percent)}%`;
}

/**
 * A short number for the profile: integers with separators, others with
 * at most 4 significant digits.
 */
export function formatStat(value: unknown): string {
  if (typeof value === 'number') {
    if (Number.isInteger(value)) {
      return formatCount(value);
    }
    return Number(value.toPrecision(4)).toString();
  }
  return value === null || value === undefined ? '\u2013' : String(value);
}

/**
 * A histogram as a tiny SVG bar chart, each bar titled with its range.
 */
export function histogram(bins: IHistogramBin[]): SVGSVGElement {
  const width = 120;
  const height = 28;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'pysk-histogram');
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('role', 'img');
  const highest = Math.max(1, ...bins.map(b => b.count));
  const step = bins.length ? width / bins.length : width;
  bins.forEach((bin, i) => {
    const h = bin.count === 0 ? 0 : Math.max(1, (bin.count / highest) * height);
    const rect = document.createElementNS(SVG, 'rect');
    rect.setAttribute('class', 'pysk-histogram-bar');
    rect.setAttribute('x', String(i * step + 0.5));
    rect.setAttribute('y', String(height - h));
    rect.setAttribute('width', String(Math.max(1, step - 1)));
    rect.setAttribute('height', String(h));
    const title = document.createElementNS(SVG, 'title');
    title.textContent = `${formatStat(bin.start)} \u2013 ${formatStat(bin.end)}: ${formatCount(bin.count)}`;
    rect.appendChild(title);
    svg.appendChild(rect);
  });
  return svg;
}

/**
 * The profile block of one column.
 */
export function profileBlock(profile: IColumnProfile): HTMLDivElement {
  const block = el('div', 'pysk-profile');
  const type = parseSparkType(profile.type);
  const line = (className: string, text: string) =>
    block.appendChild(el('div', `pysk-profile-line ${className}`, text));
  const parts = [`null ${formatShare(profile.null_share)}`];
  if (profile.distinct !== null && profile.distinct !== undefined) {
    parts.push(`~${formatCount(profile.distinct)} distinct`);
  }
  line('pysk-profile-counts', parts.join(' \u00b7 '));
  if ('min' in profile || 'max' in profile) {
    const range = [
      `min ${formatValue(profile.min ?? null, type)}`,
      `max ${formatValue(profile.max ?? null, type)}`
    ];
    if (profile.mean !== undefined && profile.mean !== null) {
      range.push(`mean ${formatStat(profile.mean)}`);
    }
    line('pysk-profile-range', range.join(' \u00b7 '));
  }
  if (profile.histogram && profile.histogram.length) {
    block.appendChild(histogram(profile.histogram));
  }
  if (profile.top && profile.top.length) {
    const list = el('ol', 'pysk-profile-top');
    const highest = Math.max(1, ...profile.top.map(t => t.count));
    for (const top of profile.top) {
      const item = el('li', 'pysk-profile-value');
      const bar = el('span', 'pysk-profile-bar');
      bar.style.width = `${Math.round((top.count / highest) * 100)}%`;
      item.append(
        bar,
        el('span', 'pysk-profile-text', formatValue(top.value, type)),
        el('span', 'pysk-profile-count', formatCount(top.count))
      );
      list.appendChild(item);
    }
    block.appendChild(list);
  }
  return block;
}
