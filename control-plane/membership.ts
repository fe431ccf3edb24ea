// This control plane joining the others on a state store: the store opened
// (tables created or migrated, older state files imported), the instance
// registered with its heartbeat, and its candidacy for leader. Undone in the
// reverse order by leave().
import type { Logger } from 'pino';
import { InstanceRegistry } from './instance-registry.js';
import { LeaderElection } from './leader-election.js';
import { openStateStore } from './store/sql-state-store.js';
import type { StateStore } from './store/state-store.js';

export interface MembershipOptions {
  /** SQLite file or postgres:// URL. */
  location: string;
  dataDir: string;
  placement: string;
  leaseMs: number;
  logger: Logger;
  instanceId?: string;
}

export interface Membership {
  store: StateStore;
  instances: InstanceRegistry;
  election: LeaderElection;
  /** Unregisters, gives up leadership and closes the store. */
  leave(): Promise<void>;
}

/** The leadership every control plane competes for. */
const LEADERSHIP = 'scheduler';

export async function join(opts: MembershipOptions): Promise<Membership> {
  const { store, schema, imported } = await openStateStore({
    location: opts.location,
    applicationName: 'wake-proxy control plane',
    legacy: { dataDir: opts.dataDir, placement: opts.placement },
  });
  const log = opts.logger;
  if (schema.from !== schema.to) log.info({ state: store.location, from: schema.from, to: schema.to }, 'state schema created or migrated');
  if (imported) log.info({ state: store.location, ...imported }, 'imported state.json and usage-events.jsonl (renamed to *.imported)');
  let instances: InstanceRegistry;
  try {
    instances = await InstanceRegistry.start({
      store,
      leaseMs: opts.leaseMs,
      placement: opts.placement,
      logger: log,
      ...(opts.instanceId ? { id: opts.instanceId } : {}),
    });
  } catch (err) {
    await store.close();
    throw err;
  }
  const election = new LeaderElection(store.leaderLock(LEADERSHIP, instances.id, opts.leaseMs), {
    name: LEADERSHIP,
    leaseMs: opts.leaseMs,
    logger: log.child({ component: 'leader-election' }),
  });
  return {
    store,
    instances,
    election,
    async leave() {
      await election.close();
      await instances.close();
      await store.close();
    },
  };
}
