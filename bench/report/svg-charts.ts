// Small hand-written SVG charts: grouped bars (throughput by thread count),
// stacked bars (where a cold wake spends its time) and cumulative latency
// distributions on a log axis. No dependency; the output opens in any browser.

const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#999999'];
const W = 760;
const H = 420;
const M = { top: 48, right: 180, bottom: 56, left: 76 };
const PW = W - M.left - M.right;
const PH = H - M.top - M.bottom;

export interface Series {
  label: string;
  values: number[];
}

export interface BarChartSpec {
  title: string;
  yLabel: string;
  categories: string[];
  series: Series[];
}

/** Bars side by side per category; with `stacked`, series pile up instead (one bar per category). */
export function barChart(spec: BarChartSpec, stacked = false): string {
  const totals = spec.categories.map((_, c) =>
    stacked ? spec.series.reduce((s, se) => s + (se.values[c] || 0), 0) : Math.max(...spec.series.map((se) => se.values[c] || 0)),
  );
  const ticks = niceTicks(0, Math.max(1e-9, ...totals));
  const top = ticks[ticks.length - 1]!;
  const y = (v: number) => M.top + PH - (v / top) * PH;
  const slot = PW / spec.categories.length;
  const barW = stacked ? slot * 0.5 : (slot * 0.8) / spec.series.length;
  const parts: string[] = [frame(spec.title), ...yAxis(ticks, y, spec.yLabel)];
  spec.categories.forEach((cat, c) => {
    const x0 = M.left + c * slot + (stacked ? slot * 0.25 : slot * 0.1);
    let base = 0;
    spec.series.forEach((se, s) => {
      const v = se.values[c] || 0;
      const x = stacked ? x0 : x0 + s * barW;
      const y1 = y(stacked ? base + v : v);
      const y0 = y(stacked ? base : 0);
      parts.push(`<rect x="${r(x)}" y="${r(y1)}" width="${r(barW - 2)}" height="${r(Math.max(0, y0 - y1))}" fill="${color(s)}"><title>${esc(`${se.label} ${cat}: ${label(v)}`)}</title></rect>`);
      if (!stacked && v > 0) parts.push(text(x + barW / 2 - 1, y1 - 4, label(v), 10, 'middle'));
      base += v;
    });
    if (stacked) parts.push(text(x0 + barW / 2, y(base) - 4, label(base), 10, 'middle'));
    parts.push(text(M.left + c * slot + slot / 2, M.top + PH + 18, cat, 12, 'middle'));
  });
  parts.push(...legend(spec.series.map((s) => s.label)));
  return svg(parts);
}

export interface LineSeries {
  label: string;
  points: Array<[number, number]>;
}

/** Cumulative distribution of latency: x on a log scale (ms), y the fraction of requests. */
export function cdfChart(title: string, series: LineSeries[]): string {
  const xs = series.flatMap((s) => s.points.map((p) => p[0])).filter((v) => v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...xs, 1)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...xs, lo * 10)));
  const x = (v: number) => M.left + ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * PW;
  const y = (f: number) => M.top + PH - f * PH;
  const parts: string[] = [frame(title), ...yAxis([0, 0.25, 0.5, 0.75, 0.9, 1], y, 'fraction of requests', (v) => `${Math.round(v * 100)}%`)];
  for (let d = lo; d <= hi * 1.0001; d *= 10) {
    parts.push(`<line x1="${r(x(d))}" y1="${M.top}" x2="${r(x(d))}" y2="${M.top + PH}" stroke="#eee"/>`);
    parts.push(text(x(d), M.top + PH + 18, `${label(d)} ms`, 11, 'middle'));
  }
  parts.push(text(M.left + PW / 2, H - 12, 'latency (log scale)', 12, 'middle'));
  series.forEach((s, i) => {
    const path = s.points.map(([px, py], j) => `${j === 0 ? 'M' : 'L'}${r(x(px))},${r(y(py))}`).join(' ');
    parts.push(`<path d="${path}" fill="none" stroke="${color(i)}" stroke-width="2"/>`);
  });
  parts.push(...legend(series.map((s) => s.label)));
  return svg(parts);
}

function frame(title: string): string {
  return [
    `<rect width="${W}" height="${H}" fill="white"/>`,
    text(M.left, 28, title, 15, 'start', 'bold'),
    `<line x1="${M.left}" y1="${M.top + PH}" x2="${M.left + PW}" y2="${M.top + PH}" stroke="#333"/>`,
  ].join('\n');
}

function yAxis(ticks: number[], y: (v: number) => number, name: string, show: (v: number) => string = label): string[] {
  const out = ticks.map(
    (t) => `<line x1="${M.left}" y1="${r(y(t))}" x2="${M.left + PW}" y2="${r(y(t))}" stroke="#eee"/>` + text(M.left - 6, y(t) + 4, show(t), 11, 'end'),
  );
  out.push(`<text x="18" y="${M.top + PH / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 18 ${M.top + PH / 2})">${esc(name)}</text>`);
  return out;
}

function legend(labels: string[]): string[] {
  return labels.map((l, i) => {
    const ly = M.top + 8 + i * 20;
    return `<rect x="${M.left + PW + 16}" y="${ly}" width="12" height="12" fill="${color(i)}"/>` + text(M.left + PW + 34, ly + 10, l, 12, 'start');
  });
}

/** About five round ticks from lo to a value at or above hi. */
export function niceTicks(lo: number, hi: number): number[] {
  const raw = (hi - lo) / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let t = lo; t < hi + step * 0.999 && out.length < 20; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

function label(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toPrecision(3)}M`;
  if (v >= 1e4) return `${(v / 1e3).toPrecision(3)}k`;
  if (v >= 100) return v.toFixed(0);
  return Number(v.toPrecision(3)).toString();
}

function color(i: number): string {
  return PALETTE[i % PALETTE.length]!;
}

function text(x: number, y: number, s: string, size: number, anchor: string, weight = 'normal'): string {
  return `<text x="${r(x)}" y="${r(y)}" font-size="${size}" text-anchor="${anchor}" font-weight="${weight}">${esc(s)}</text>`;
}

function svg(parts: string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif">\n${parts.join('\n')}\n</svg>\n`;
}

function r(n: number): string {
  return n.toFixed(1);
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
