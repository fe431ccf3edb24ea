// A new compute's record and storage. The record is born claimed by the control
// plane that creates it, so no other one adopts it while its storage is made;
// the storage comes from the driver with the owner's verifier, never a password.
import { ApiError } from './api-error.js';
import { resourcesOf } from './compute-size.js';
import { controlVerifier, type ControlLogin } from './control-account.js';
import type { ComputeDriver } from './drivers/driver.js';
import type { ComputeOp, ComputeRecord, ProjectRecord } from './records.js';

/** Bound on provisioning one compute's storage, unless the service is told another. */
const PROVISION_TIMEOUT_MS = 120_000;

/** A stopped compute of `project` at its minimum size, claimed by `holder` for `op`. */
export function newComputeRecord(project: ProjectRecord, id: string, control: ControlLogin, op: ComputeOp, holder: string, placement: string): ComputeRecord {
  const now = new Date();
  return {
    id,
    projectId: project.id,
    state: 'stopped',
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    resumeCount: 0,
    control,
    version: 1,
    claim: { op, holder, since: now.getTime() },
    placement,
    sizeMilli: project.range.minMilli,
  };
}

/** The compute's storage with the owner and control accounts; a failure is the API's 503 naming both. */
export async function provisionStorage(
  driver: ComputeDriver,
  project: ProjectRecord,
  computeId: string,
  control: ControlLogin,
  timeoutMs = PROVISION_TIMEOUT_MS,
): Promise<void> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    // Leftovers under this id can only come from a creation that never finished.
    await driver.destroy(computeId);
    await driver.provision(
      {
        computeId,
        projectId: project.id,
        ownerUser: project.ownerUser,
        ownerVerifier: project.ownerVerifier,
        control: { user: control.user, verifier: controlVerifier(control) },
        size: resourcesOf(project.range.minMilli),
      },
      signal,
    );
  } catch (err) {
    const cause = err instanceof Error ? err.message : String(err);
    throw new ApiError(503, 'provision_failed', `project '${project.id}': could not provision compute ${computeId}: ${cause}`, { cause: err });
  }
}
