// Turning scenario results into markdown (printed and saved), results.json and
// the SVG files, all in one results directory.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ScenarioResult, Table, TargetCheck } from '../scenario.js';

export interface RunMeta {
  startedAt: string;
  profile: string;
  durationSeconds: number;
  machine: Record<string, string>;
}

export function markdownTable(t: Table): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [`| ${t.columns.map(cell).join(' | ')} |`, `|${t.columns.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const row of t.rows) lines.push(`| ${row.map(cell).join(' | ')} |`);
  return (t.title ? `**${t.title}**\n\n` : '') + lines.join('\n');
}

function targetsTable(targets: TargetCheck[]): Table {
  return {
    title: 'Targets',
    columns: ['target', 'wanted', 'measured', 'met'],
    rows: targets.map((t) => [t.name, t.target, t.measured, t.met === null ? 'not measured' : t.met ? 'yes' : '**NO**']),
  };
}

export function renderScenario(r: ScenarioResult): string {
  const parts = [`### ${r.title}`];
  for (const t of r.tables) parts.push(markdownTable(t));
  if (r.targets.length > 0) parts.push(markdownTable(targetsTable(r.targets)));
  if (r.notes.length > 0) parts.push(r.notes.map((n) => `- ${n}`).join('\n'));
  if (r.charts.length > 0) parts.push(`Charts: ${r.charts.map((c) => `[${c.file}](${c.file})`).join(', ')}`);
  return parts.join('\n\n');
}

export function renderReport(meta: RunMeta, results: ScenarioResult[]): string {
  const machine = Object.entries(meta.machine)
    .map(([k, v]) => `${k}: ${v}`)
    .join('; ');
  const allTargets = results.flatMap((r) => r.targets);
  return [
    `# wake-proxy bench (${meta.profile}), ${meta.startedAt}`,
    `${machine}. Took ${meta.durationSeconds.toFixed(0)} s.`,
    allTargets.length > 0 ? markdownTable(targetsTable(allTargets)) : '',
    ...results.map(renderScenario),
  ]
    .filter(Boolean)
    .join('\n\n') + '\n';
}

export async function writeResults(outDir: string, meta: RunMeta, results: ScenarioResult[]): Promise<string> {
  const markdown = renderReport(meta, results);
  await writeFile(join(outDir, 'results.md'), markdown);
  const json = { meta, scenarios: results.map(({ charts, ...rest }) => ({ ...rest, charts: charts.map((c) => c.file) })) };
  await writeFile(join(outDir, 'results.json'), JSON.stringify(json, null, 2) + '\n');
  for (const r of results) for (const c of r.charts) await writeFile(join(outDir, c.file), c.svg);
  return markdown;
}
