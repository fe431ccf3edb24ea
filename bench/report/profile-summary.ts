// With --cpu-prof: what each proxy process spent its time on, as a table per
// profile (top functions by self time), so a run's results say where the time
// went without opening DevTools. Profiles are written when the processes exit,
// so this runs after everything is stopped.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ScenarioResult, Table } from '../scenario.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Not work: waiting in epoll, and V8's bucket for time outside JS and the known natives. */
const NOT_BUSY = new Set(['(idle)', '(program)']);

const TOP = 15;

export async function summarizeProfiles(dir: string): Promise<ScenarioResult> {
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.cpuprofile')).sort();
  const tables: Table[] = [];
  for (const file of files) {
    const profile = JSON.parse(await readFile(join(dir, file), 'utf8')) as CpuProfile;
    tables.push(profileTable(file.replace(/\.cpuprofile$/, ''), profile));
  }
  return {
    id: 'profiles',
    title: 'CPU profiles: where each proxy spent its busy time',
    tables,
    charts: [],
    targets: [],
    notes: [
      `Top ${TOP} functions by self time, as a share of the samples that were not idle. Profiles in profiles/*.cpuprofile.`,
      'The profiler samples wall-clock time on the main thread: a native write or connect (writeBuffer, internalConnect) also counts the time the process was preempted inside it, which on a busy machine is most of it. Trust /proc CPU per connection for totals, the profile for shares of JS work.',
    ],
    data: { files },
  };
}

function profileTable(name: string, p: CpuProfile): Table {
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let busy = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const frame = nodes.get(p.samples[i]!)?.callFrame;
    if (!frame || NOT_BUSY.has(frame.functionName)) continue;
    const dt = p.timeDeltas[i] ?? 0;
    const key = frame.url ? `${frame.functionName || '(anonymous)'} ${where(frame.url)}:${frame.lineNumber + 1}` : frame.functionName;
    self.set(key, (self.get(key) ?? 0) + dt);
    busy += dt;
  }
  const rows = [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, TOP)
    .map(([fn, us]) => [fn, `${((100 * us) / Math.max(busy, 1)).toFixed(1)}%`]);
  return { title: `${name} (busy ${(busy / 1e6).toFixed(1)} s)`, columns: ['function', 'self'], rows };
}

/** A short location: the project's files from their folder on, Node's internals as they are. */
function where(url: string): string {
  const i = url.lastIndexOf('/dist/');
  if (i >= 0) return url.slice(i + '/dist/'.length);
  const m = /node_modules\/(.*)$/.exec(url);
  return m ? m[1]! : url.replace(/^node:/, '');
}
