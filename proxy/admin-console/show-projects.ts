// SHOW PROJECTS: every project this proxy knows of now: those of its clients, those
// its resolver keeps an address for or is waking, and those its activity reports
// still carry. Read when asked from the sessions, the resolver and the reporter.
import type { ActivityTracker } from '../activity.js';
import type { ComputeResolver, ResolverEntry } from '../../control-client/types.js';
import type { SessionContext } from '../session-context.js';
import { rows, seconds, type ConsoleColumn, type ConsoleReply } from './console-reply.js';

export const PROJECT_COLUMNS: readonly ConsoleColumn[] = [
  { name: 'project', kind: 'text' },
  /** Its client sessions on this proxy, in any state. */
  { name: 'clients', kind: 'int' },
  /** Of those, held for its wake now. */
  { name: 'waiting_for_wake', kind: 'int' },
  /** Seconds since the activity this proxy last reported for it; NULL without an activity store. */
  { name: 'last_activity_s', kind: 'seconds' },
  /** The compute its cached address belongs to. */
  { name: 'compute', kind: 'text' },
  { name: 'address', kind: 'text' },
  /** Seconds since the control plane gave that address (past --cache-ttl it is asked again). */
  { name: 'address_age_s', kind: 'seconds' },
  /** 1 while a wake (a control API or Kubernetes call) is in flight for it; one serves all its clients. */
  { name: 'wakes_in_flight', kind: 'int' },
  /** Seconds that wake has been in flight. */
  { name: 'wake_s', kind: 'seconds' },
];

interface ProjectRow {
  clients: number;
  waiting: number;
  lastActive?: number;
  cached?: ResolverEntry;
}

export function showProjects(
  sessions: Iterable<SessionContext>,
  resolver: ComputeResolver,
  activity: ActivityTracker | undefined,
  now = Date.now(),
): ConsoleReply {
  const projects = new Map<string, ProjectRow>();
  const project = (name: string): ProjectRow => {
    let p = projects.get(name);
    if (!p) projects.set(name, (p = { clients: 0, waiting: 0 }));
    return p;
  };
  for (const s of sessions) {
    if (s.project === undefined) continue;
    const p = project(s.project);
    p.clients++;
    if (s.state === 'waiting_for_wake') p.waiting++;
  }
  for (const e of resolver.entries?.() ?? []) project(e.project).cached = e;
  for (const [name, at] of activity?.lastActivity?.() ?? []) project(name).lastActive = at;
  const data = [...projects]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, p]) => {
      const c = p.cached;
      return [
        name,
        p.clients,
        p.waiting,
        p.lastActive !== undefined ? seconds(now - p.lastActive) : null,
        c?.addr?.computeId ?? null,
        c?.addr ? `${c.addr.host}:${c.addr.port}` : null,
        c?.answeredAt !== undefined ? seconds(now - c.answeredAt) : null,
        c?.wakingSince !== undefined ? 1 : 0,
        c?.wakingSince !== undefined ? seconds(now - c.wakingSince) : null,
      ];
    });
  return rows(PROJECT_COLUMNS, data);
}
