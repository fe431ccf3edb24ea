// GET /api/v1/usage/metrics: every project's usage as Prometheus counters, for
// a billing system that scrapes rather than asks. The counters are the
// ledger's totals since each project began, computed from the state store at
// each scrape: they survive control-plane restarts and failovers (no reset to
// zero), and a deleted project's counters stay as they ended. Unlike /metrics
// they carry a project label, which is why they sit behind the API's token.
import type { UsageLedger } from './usage-ledger.js';
import { cuSeconds, seconds } from './usage-periods.js';

export async function usageMetricsText(ledger: UsageLedger, now = Date.now()): Promise<string> {
  const byProject = await ledger.allUsage(0, now, false, now);
  const ids = [...byProject.keys()].sort();
  const lines = [
    '# HELP wakeproxy_project_compute_seconds_total Seconds the project\'s computes ran (starting, active, stopping), since it began',
    '# TYPE wakeproxy_project_compute_seconds_total counter',
    ...ids.map((id) => `wakeproxy_project_compute_seconds_total{project="${label(id)}"} ${seconds(byProject.get(id)!.total)}`),
    '# HELP wakeproxy_project_cu_seconds_total Compute-unit seconds (size times running time) of the project\'s computes, since it began',
    '# TYPE wakeproxy_project_cu_seconds_total counter',
    ...ids.map((id) => `wakeproxy_project_cu_seconds_total{project="${label(id)}"} ${cuSeconds(byProject.get(id)!.total)}`),
  ];
  return lines.join('\n') + '\n';
}

function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
