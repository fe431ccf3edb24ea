// A chart over time with two y axes: a quantity drawn as steps on the left
// (a compute's size in CU) and one drawn as a line on the right (throughput),
// with the phases of the run shaded behind them. Hand-written SVG like
// svg-charts.ts.
import { niceTicks } from './svg-charts.js';

const W = 860;
const H = 420;
const M = { top: 48, right: 90, bottom: 56, left: 70 };
const PW = W - M.left - M.right;
const PH = H - M.top - M.bottom;
const LEFT_COLOR = '#D55E00';
const RIGHT_COLOR = '#0072B2';

export interface TimeChartSpec {
  title: string;
  /** Seconds since the start. */
  xMax: number;
  left: { label: string; points: Array<[number, number]>; max?: number };
  right: { label: string; points: Array<[number, number]> };
  phases: Array<{ from: number; to: number; label: string }>;
}

export function timeChart(spec: TimeChartSpec): string {
  const x = (s: number) => M.left + (s / Math.max(1e-9, spec.xMax)) * PW;
  const leftTicks = niceTicks(0, Math.max(spec.left.max ?? 0, ...spec.left.points.map((p) => p[1]), 1e-9));
  const rightTicks = niceTicks(0, Math.max(...spec.right.points.map((p) => p[1]), 1e-9));
  const yl = (v: number) => M.top + PH - (v / leftTicks.at(-1)!) * PH;
  const yr = (v: number) => M.top + PH - (v / rightTicks.at(-1)!) * PH;
  const parts: string[] = [`<rect width="${W}" height="${H}" fill="white"/>`, text(M.left, 28, spec.title, 15, 'start', 'bold')];

  spec.phases.forEach((p, i) => {
    const x0 = x(p.from);
    const x1 = x(Math.min(p.to, spec.xMax));
    parts.push(`<rect x="${r(x0)}" y="${M.top}" width="${r(Math.max(0, x1 - x0))}" height="${PH}" fill="${i % 2 ? '#f4f4f4' : '#fafafa'}"/>`);
    parts.push(text((x0 + x1) / 2, M.top + 14, p.label, 11, 'middle'));
  });
  for (const t of leftTicks) {
    parts.push(`<line x1="${M.left}" y1="${r(yl(t))}" x2="${M.left + PW}" y2="${r(yl(t))}" stroke="#e4e4e4"/>`);
    parts.push(text(M.left - 6, yl(t) + 4, String(t), 11, 'end', 'normal', LEFT_COLOR));
  }
  for (const t of rightTicks) parts.push(text(M.left + PW + 6, yr(t) + 4, short(t), 11, 'start', 'normal', RIGHT_COLOR));
  for (const t of niceTicks(0, spec.xMax)) {
    if (t > spec.xMax) break;
    parts.push(text(x(t), M.top + PH + 18, `${t}`, 11, 'middle'));
  }
  parts.push(`<line x1="${M.left}" y1="${M.top + PH}" x2="${M.left + PW}" y2="${M.top + PH}" stroke="#333"/>`);
  parts.push(text(M.left + PW / 2, H - 14, 'seconds', 12, 'middle'));
  parts.push(vertical(18, spec.left.label, LEFT_COLOR));
  parts.push(vertical(W - 16, spec.right.label, RIGHT_COLOR));

  const line = spec.right.points.map(([s, v], i) => `${i ? 'L' : 'M'}${r(x(s))},${r(yr(v))}`).join(' ');
  if (line) parts.push(`<path d="${line}" fill="none" stroke="${RIGHT_COLOR}" stroke-width="1.5"/>`);
  // The size holds until it changes: steps, not slopes.
  const steps: string[] = [];
  spec.left.points.forEach(([s, v], i, all) => {
    if (i > 0) steps.push(`L${r(x(s))},${r(yl(all[i - 1]![1]))}`);
    steps.push(`${i ? 'L' : 'M'}${r(x(s))},${r(yl(v))}`);
  });
  if (steps.length) parts.push(`<path d="${steps.join(' ')}" fill="none" stroke="${LEFT_COLOR}" stroke-width="2.5"/>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif">\n${parts.join('\n')}\n</svg>\n`;
}

function vertical(x: number, s: string, color: string): string {
  const y = M.top + PH / 2;
  return `<text x="${x}" y="${y}" font-size="12" fill="${color}" text-anchor="middle" transform="rotate(-90 ${x} ${y})">${esc(s)}</text>`;
}

function text(x: number, y: number, s: string, size: number, anchor: string, weight = 'normal', fill = '#222'): string {
  return `<text x="${r(x)}" y="${r(y)}" font-size="${size}" fill="${fill}" text-anchor="${anchor}" font-weight="${weight}">${esc(s)}</text>`;
}

function short(v: number): string {
  return v >= 1e4 ? `${(v / 1e3).toPrecision(3)}k` : Number(v.toPrecision(3)).toString();
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function r(n: number): string {
  return n.toFixed(1);
}
