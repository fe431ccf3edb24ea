// The README's metric table is what a proxy's /metrics serves, both ways: every
// metric (and label) the table names is served, and every metric served is in the
// table, Node's own under their `process_*` / `nodejs_*` rows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { createProxyMetrics } from '../../proxy/metrics.js';
import { registryScrape, startAdminServer } from '../../proxy/admin-http.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

interface TableEntry {
  name: string;
  /** The label names written in braces; absent for a wildcard row. */
  labels?: string[];
}

/** The first column of the table under "| metric | what |" in the Operations section. */
function readmeMetrics(readme: string): TableEntry[] {
  const start = readme.indexOf('| metric | what |');
  assert.ok(start >= 0, 'the README has a metric table');
  const lines = readme.slice(start).split('\n');
  const entries: TableEntry[] = [];
  for (const line of lines.slice(2)) {
    if (!line.startsWith('|')) break;
    const first = line.split('|')[1]!;
    for (const [, name, labels] of first.matchAll(/`([a-z_*]+)(?:\{([a-z_,]+)\})?`/g)) {
      entries.push(name!.endsWith('*') ? { name: name! } : { name: name!, labels: labels ? labels.split(',') : [] });
    }
  }
  return entries;
}

/** Metric families and their label names, as /metrics serves them. */
async function servedMetrics(): Promise<Map<string, Set<string>>> {
  const metrics = createProxyMetrics();
  const admin = await startAdminServer({
    host: '127.0.0.1',
    port: 0,
    scrape: registryScrape(metrics.registry),
    ready: () => true,
    logger: pino({ level: 'silent' }),
  });
  try {
    const text = await (await fetch(`http://127.0.0.1:${admin.port}/metrics`)).text();
    const families = new Map<string, Set<string>>();
    for (const [, name] of text.matchAll(/^# TYPE (\S+) \S+$/gm)) families.set(name!, new Set());
    // Labels as the registry defines them: a counter with no value yet has no sample line.
    for (const [name, labels] of families) {
      const metric = metrics.registry.getSingleMetric(name) as unknown as { labelNames?: string[] } | undefined;
      for (const l of metric?.labelNames ?? []) labels.add(l);
    }
    return families;
  } finally {
    await admin.close();
  }
}

test("every metric the README's table names is on /metrics, with its labels, and every metric there is in the table", async () => {
  const table = readmeMetrics(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  const served = await servedMetrics();
  const wildcards = table.filter((e) => !e.labels).map((e) => e.name.slice(0, -1));
  for (const e of table) {
    if (!e.labels) {
      assert.ok([...served.keys()].some((n) => n.startsWith(e.name.slice(0, -1))), `${e.name} matches nothing on /metrics`);
      continue;
    }
    const labels = served.get(e.name);
    assert.ok(labels, `${e.name} is in the README but not on /metrics`);
    assert.deepEqual([...labels].sort(), [...e.labels].sort(), `${e.name}'s labels`);
  }
  const named = new Set(table.map((e) => e.name));
  for (const name of served.keys()) {
    assert.ok(named.has(name) || wildcards.some((w) => name.startsWith(w)), `${name} is on /metrics but not in the README`);
  }
  // No prefix doubled onto Node's own metrics.
  assert.ok(served.has('process_cpu_seconds_total'));
  assert.deepEqual([...served.keys()].filter((n) => /process_process|wakeproxy_process_/.test(n)), []);
});

test('the table reader reads names, labels and wildcards (the check above can fail)', () => {
  const entries = readmeMetrics('x\n| metric | what |\n|---|---|\n| `a_total{x,y}`, `b` | t |\n| `c_*` | n |\n\nafter `d`');
  assert.deepEqual(entries, [{ name: 'a_total', labels: ['x', 'y'] }, { name: 'b', labels: [] }, { name: 'c_*' }]);
});
