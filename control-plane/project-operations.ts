// The writes on projects the API asks for: creating one (its owner, its
// compute's storage, its first start), changing its settings, giving a project
// without a compute a new one, and removing one. Names are reserved by the
// store's insert, so two creations of one name on any control planes give one
// conflict; a creation that fails is undone, since nobody has its password yet.
// These answer with records; ControlPlaneService turns them into views.
import type { Logger } from 'pino';
import { badRequest, conflict, notFound } from './api-error.js';
import type { ComputeLifecycle } from './compute-lifecycle.js';
import { newComputeRecord, provisionStorage } from './compute-provisioning.js';
import { clamp } from './compute-size.js';
import { generateControlLogin, type ControlLogin } from './control-account.js';
import type { ComputeDriver } from './drivers/driver.js';
import { generateOwnerPassword, OWNER_USER, ownerVerifier } from './owner-credentials.js';
import { creationSettings, settingsChange } from './project-settings.js';
import { projectNameProblem, type ComputeOp, type ComputeRecord, type ProjectRecord } from './records.js';
import type { StateStore } from './store/state-store.js';

export interface ProjectContext {
  store: StateStore;
  driver: ComputeDriver;
  lifecycle: ComputeLifecycle;
  /** This control plane's instance id: the holder of a new compute's claim. */
  me: string;
  logger: Logger;
  wakeTimeoutMs: number;
  /** Bound on provisioning one compute's storage. */
  provisionTimeoutMs?: number;
}

/** Provisions storage and the owner and starts the compute; the password is the only copy there is. */
export async function createProject(d: ProjectContext, body: Record<string, unknown> | undefined): Promise<{ project: ProjectRecord; password: string }> {
  const name = body?.name;
  const problem = projectNameProblem(name);
  if (problem) throw badRequest('invalid_project_name', problem);
  const settings = creationSettings(body);
  const id = name as string;
  const password = generateOwnerPassword();
  const project: ProjectRecord = {
    id,
    name: id,
    createdAt: new Date().toISOString(),
    ownerUser: OWNER_USER,
    ownerVerifier: ownerVerifier(password),
    computeId: `${id}-c1`,
    computeSeq: 1,
    ...settings,
  };
  const control = generateControlLogin();
  const compute = newCompute(d, project, project.computeId!, control, 'provision-project');
  // The insert is the reservation: of two creations of one name, on any control planes, one gets a conflict.
  if (!(await d.store.createProject(project, compute))) throw conflict('project_exists', `project '${id}' already exists`);
  await d.lifecycle.provision(compute, () => provisionStorage(d.driver, project, compute.id, control, d.provisionTimeoutMs));
  try {
    await d.lifecycle.wake(compute.id, d.wakeTimeoutMs);
  } catch (err) {
    // Nobody has the password yet, so a project that failed to come up is useless: undo it.
    await forgetProject(d, project).catch((undoErr: unknown) => d.logger.error({ err: undoErr, projectId: id }, 'could not undo a failed project creation'));
    throw err;
  }
  return { project, password };
}

/**
 * Changes a project's range or quota. A compute running outside a new range
 * is resized into it at once (if that fails, the autoscaler tries again).
 */
export async function updateProject(d: ProjectContext, current: ProjectRecord, body: Record<string, unknown> | undefined): Promise<ProjectRecord> {
  const id = current.id;
  const updated = await d.store.updateProject(id, settingsChange(body, current));
  if (!updated) throw notFound('project_not_found', `project '${id}' does not exist`);
  const c = updated.computeId ? await d.store.getCompute(updated.computeId) : undefined;
  if (c?.state === 'active' && clamp(c.sizeMilli, updated.range) !== c.sizeMilli) {
    await d.lifecycle.resize(c.id, clamp(c.sizeMilli, updated.range)).catch((err: unknown) =>
      d.logger.warn({ err, projectId: id, computeId: c.id }, 'could not resize a compute into its new range now; the autoscaler will'),
    );
  }
  d.logger.info({ projectId: id, range: updated.range, quota: updated.quota }, 'project settings changed');
  return updated;
}

/** Gives a project without a compute a new one (provisioned, stopped: the next wake starts it). */
export async function createCompute(d: ProjectContext, project: ProjectRecord): Promise<ComputeRecord> {
  const projectId = project.id;
  const exists = () => conflict('compute_exists', `project '${projectId}' already has a compute (${project.computeId ?? 'being created'})`);
  if (project.computeId) throw exists();
  const seq = project.computeSeq + 1;
  const control = generateControlLogin();
  const compute = newCompute(d, project, `${projectId}-c${seq}`, control, 'provision');
  if (!(await d.store.addCompute(projectId, compute, seq))) throw exists();
  return d.lifecycle.provision(compute, () => provisionStorage(d.driver, project, compute.id, control, d.provisionTimeoutMs));
}

/** Removes the project's compute (process and storage), then the project. */
export async function forgetProject(d: ProjectContext, project: ProjectRecord): Promise<void> {
  if (project.computeId) await d.lifecycle.destroy(project.computeId);
  await d.store.removeProject(project.id);
}

function newCompute(d: ProjectContext, project: ProjectRecord, id: string, control: ControlLogin, op: ComputeOp): ComputeRecord {
  return newComputeRecord(project, id, control, op, d.me, d.driver.placement);
}
