// The leader's sweep: computes and operations left by control planes that are
// gone (no heartbeat in the instance registry) are taken over, so a compute
// whose owner died is still watched, suspended and woken.
import type { Logger } from 'pino';
import type { ComputeLifecycle } from './compute-lifecycle.js';
import type { InstanceRegistry } from './instance-registry.js';
import type { ComputeRecord } from './records.js';
import type { StateStore } from './store/state-store.js';

/** Computes adopted at once: each may wait for a start left half done. */
const ADOPT_AT_ONCE = 8;

export interface OrphanSweep {
  store: StateStore;
  lifecycle: ComputeLifecycle;
  instances: InstanceRegistry;
  /** This control plane's driver placement: computes placed elsewhere are not ours to adopt. */
  placement: string;
  logger: Logger;
}

/** Adopts every orphaned compute; answers how many there were. */
export async function adoptOrphans(sweep: OrphanSweep): Promise<number> {
  const orphans: ComputeRecord[] = [];
  for (const c of await sweep.store.listComputes()) if (await orphaned(sweep, c)) orphans.push(c);
  for (let i = 0; i < orphans.length; i += ADOPT_AT_ONCE) {
    await Promise.all(
      orphans.slice(i, i + ADOPT_AT_ONCE).map((c) =>
        sweep.lifecycle.adopt(c.id).catch((err: unknown) => sweep.logger.warn({ err, computeId: c.id, projectId: c.projectId }, 'could not adopt a compute')),
      ),
    );
  }
  return orphans.length;
}

/** Claimed by a dead instance, or running with a dead (or no) owner, and placed where this driver reaches. */
async function orphaned(sweep: OrphanSweep, c: ComputeRecord): Promise<boolean> {
  const me = sweep.instances.id;
  if (c.placement && c.placement !== sweep.placement) return false;
  if (c.claim) return c.claim.holder !== me && !(await sweep.instances.alive(c.claim.holder));
  if (c.state === 'stopped' || c.state === 'failed') return false;
  return !c.owner || (c.owner !== me && !(await sweep.instances.alive(c.owner)));
}
