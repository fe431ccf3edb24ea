// Projects and their computes: what the HTTP API (and an embedding process)
// calls. The records live in the state store, shared by every control plane
// on it; compute transitions are ComputeLifecycle's. Every method answers with
// views, never with records, so a verifier cannot leak into a response by
// accident.
import type { Logger } from 'pino';
import { ApiError, badRequest, conflict, notFound } from './api-error.js';
import { ComputeLifecycle } from './compute-lifecycle.js';
import type { Resized } from './compute-resize.js';
import { clamp } from './compute-size.js';
import { creationSettings, settingsChange } from './project-settings.js';
import { ensureWithinQuota, type QuotaSources } from './quota-check.js';
import type { ComputeDriver, SuspendTier } from './drivers/driver.js';
import { generateControlLogin, type ControlLogin } from './control-account.js';
import { newComputeRecord, provisionStorage } from './compute-provisioning.js';
import { adoptOrphans } from './orphan-adoption.js';
import { generateOwnerPassword, OWNER_USER, ownerVerifier } from './owner-credentials.js';
import {
  computeView,
  idleCandidate,
  projectNameProblem,
  projectView,
  type ComputeOp,
  type ComputeRecord,
  type ComputeView,
  type IdleCandidate,
  type ProjectRecord,
  type ProjectView,
} from './records.js';
import { ComputeRoles, type RoleAnswer, type ComputeRoleOptions } from './compute-roles.js';
import type { InstanceRegistry } from './instance-registry.js';
import type { LeaderFence, StateStore } from './store/state-store.js';
import { ComputeKills } from './compute-kill.js';
import type { ProbeTarget } from './compute-prober.js';

export interface ControlPlaneServiceOptions {
  store: StateStore;
  driver: ComputeDriver;
  /** This control plane among the others on the store. */
  instances: InstanceRegistry;
  /** Whether this control plane leads (it alone sweeps roles). */
  isLeader: () => boolean;
  logger: Logger;
  wakeTimeoutMs: number;
  /** Bound on provisioning one compute's storage. */
  provisionTimeoutMs?: number;
  /** Reading users' verifiers from computes (GET /projects/{id}/roles?user=). */
  roles?: ComputeRoleOptions;
  /** Where quotas are checked against (usage, storage); without it nothing is refused for its quota. */
  quota?: QuotaSources;
}

export interface CreatedProject {
  id: string;
  name: string;
  createdAt: string;
  user: string;
  /** Shown once, here; only its verifier is kept. */
  password: string;
  compute: ComputeView | null;
}

export interface WakeAnswer {
  project: string;
  compute: ComputeView;
}

export class ControlPlaneService {
  private readonly lifecycle: ComputeLifecycle;
  private readonly roles: ComputeRoles;
  private readonly kills = new ComputeKills();
  private readonly store: StateStore;

  constructor(private readonly opts: ControlPlaneServiceOptions) {
    this.store = opts.store;
    this.roles = new ComputeRoles({ store: opts.store, isLeader: opts.isLeader, logger: opts.logger.child({ component: 'compute-roles' }) }, opts.roles);
    this.lifecycle = new ComputeLifecycle({
      store: opts.store,
      driver: opts.driver,
      me: opts.instances.id,
      alive: (id) => opts.instances.alive(id),
      selfAlive: () => opts.instances.selfAlive(),
      logger: opts.logger,
      wakeTimeoutMs: opts.wakeTimeoutMs,
      onTransition: (t) => this.roles.computeTransition(t),
      beforeSuspend: (c) => this.roles.beforeSuspend(c),
      startSize: async (c) => (await this.store.getProject(c.projectId))?.range.minMilli ?? c.sizeMilli,
    });
    this.roles.start();
  }

  get wakeTimeoutMs(): number {
    return this.opts.wakeTimeoutMs;
  }

  async listProjects(): Promise<ProjectView[]> {
    const [projects, computes] = await Promise.all([this.store.listProjects(), this.store.listComputes()]);
    const byId = new Map(computes.map((c) => [c.id, c]));
    return projects.map((p) => projectView(p, p.computeId ? byId.get(p.computeId) : undefined));
  }

  async getProject(id: string): Promise<ProjectView> {
    return this.view(await this.project(id));
  }

  /** Provisions storage and the owner, starts the compute, and answers once it is active. */
  async createProject(body: Record<string, unknown> | undefined): Promise<CreatedProject> {
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
    const compute = this.newCompute(project, project.computeId!, control, 'provision-project');
    // The insert is the reservation: of two creations of one name, on any control planes, one gets a conflict.
    if (!(await this.store.createProject(project, compute))) throw conflict('project_exists', `project '${id}' already exists`);
    await this.lifecycle.provision(compute, () => this.provisionStorage(project, compute.id, control));
    try {
      await this.lifecycle.wake(compute.id, this.opts.wakeTimeoutMs);
    } catch (err) {
      // Nobody has the password yet, so a project that failed to come up is useless: undo it.
      await this.forget(project).catch((undoErr: unknown) => this.opts.logger.error({ err: undoErr, projectId: id }, 'could not undo a failed project creation'));
      throw err;
    }
    const view = await this.getProject(id);
    this.opts.logger.info({ projectId: id, computeId: compute.id }, 'project created');
    return { id, name: id, createdAt: view.createdAt, user: view.user, password, compute: view.compute };
  }

  /**
   * Changes a project's range or quota. A compute running outside a new range
   * is resized into it at once (if that fails, the autoscaler tries again).
   */
  async updateProject(id: string, body: Record<string, unknown> | undefined): Promise<ProjectView> {
    const current = await this.project(id);
    const updated = await this.store.updateProject(id, settingsChange(body, current));
    if (!updated) throw notFound('project_not_found', `project '${id}' does not exist`);
    const c = updated.computeId ? await this.store.getCompute(updated.computeId) : undefined;
    if (c?.state === 'active' && clamp(c.sizeMilli, updated.range) !== c.sizeMilli) {
      await this.lifecycle.resize(c.id, clamp(c.sizeMilli, updated.range)).catch((err: unknown) =>
        this.opts.logger.warn({ err, projectId: id, computeId: c.id }, 'could not resize a compute into its new range now; the autoscaler will'),
      );
    }
    this.opts.logger.info({ projectId: id, range: updated.range, quota: updated.quota }, 'project settings changed');
    return this.view(updated);
  }

  async deleteProject(id: string): Promise<void> {
    await this.forget(await this.project(id));
    this.opts.logger.info({ projectId: id }, 'project deleted');
  }

  /** Gives a project without a compute a new one (provisioned, stopped: the next wake starts it). */
  async createCompute(projectId: string): Promise<ComputeView> {
    const project = await this.project(projectId);
    const exists = () => conflict('compute_exists', `project '${projectId}' already has a compute (${project.computeId ?? 'being created'})`);
    if (project.computeId) throw exists();
    const seq = project.computeSeq + 1;
    const control = generateControlLogin();
    const compute = this.newCompute(project, `${projectId}-c${seq}`, control, 'provision');
    if (!(await this.store.addCompute(projectId, compute, seq))) throw exists();
    return computeView(await this.lifecycle.provision(compute, () => this.provisionStorage(project, compute.id, control)));
  }

  async getCompute(id: string): Promise<ComputeView> {
    const c = await this.compute(id);
    return computeView(c, (await this.store.getProject(c.projectId))?.range);
  }

  async deleteCompute(id: string): Promise<void> {
    await this.compute(id);
    await this.lifecycle.destroy(id);
  }

  suspendCompute(id: string, tier: SuspendTier): Promise<ComputeView> {
    return this.lifecycle.suspend(id, tier);
  }

  async listComputes(): Promise<ComputeView[]> {
    return (await this.store.listComputes()).map((c) => computeView(c));
  }

  /** What the idle scheduler looks at: every compute with its last wake. */
  async idleCandidates(): Promise<IdleCandidate[]> {
    return (await this.store.listComputes()).map(idleCandidate);
  }

  /** The idle scheduler's suspend (see ComputeLifecycle.suspendIf). */
  suspendComputeIf(id: string, tier: SuspendTier, stillIdle: (c: IdleCandidate) => Promise<boolean>, fence: LeaderFence): Promise<ComputeView | undefined> {
    return this.lifecycle.suspendIf(id, tier, stillIdle, fence);
  }

  resumeCompute(id: string, timeoutMs = this.opts.wakeTimeoutMs): Promise<ComputeView> {
    return this.lifecycle.wake(id, timeoutMs);
  }

  /** Active computes as the health prober needs them (compute-prober.ts); credentials stay in the control plane. */
  async activeComputes(): Promise<ProbeTarget[]> {
    const out: ProbeTarget[] = [];
    for (const c of await this.store.listComputes()) {
      if (c.state === 'active' && c.endpoint) out.push({ id: c.id, endpoint: c.endpoint, updatedAt: c.updatedAt, ...(c.control ? { control: c.control } : {}) });
    }
    return out;
  }

  /** Stops the statement `thread` runs on an active compute, as the control account (compute-kill.ts). */
  async killQuery(id: string, thread: number): Promise<{ killed: boolean }> {
    return this.kills.killQuery(await this.compute(id), thread);
  }

  /**
   * The leader's health probe found an active compute unresponsive (compute-prober.ts):
   * reported failed, stopped and started again. False when it changed since the probe began.
   */
  restartUnresponsive(id: string, reason: string, seenUpdatedAt: string, fence: LeaderFence): Promise<boolean> {
    return this.lifecycle.restartUnresponsive(id, reason, seenUpdatedAt, fence);
  }

  /** What the proxy calls: the project's compute address once it serves. */
  async wakeProject(projectId: string, timeoutMs = this.opts.wakeTimeoutMs): Promise<WakeAnswer> {
    const project = await this.project(projectId);
    if (!project.computeId) {
      throw new ApiError(409, 'no_compute', `project '${projectId}' has no compute; create one with POST /api/v1/projects/${projectId}/compute`);
    }
    // Only a wake that would start the compute asks: an awake one is answered at once.
    const quota = this.opts.quota;
    const beforeStart = quota ? async () => ensureWithinQuota(quota, (await this.store.getProject(projectId)) ?? project) : undefined;
    return { project: projectId, compute: await this.lifecycle.wake(project.computeId, timeoutMs, beforeStart) };
  }

  /** Every compute as stored (the autoscaler's view: it needs the address and the control login). */
  computeRecords(): Promise<ComputeRecord[]> {
    return this.store.listComputes();
  }

  projectRecord(id: string): Promise<ProjectRecord | undefined> {
    return this.store.getProject(id);
  }

  /** The autoscaler's resize (see ComputeLifecycle.resize). */
  resizeCompute(id: string, toMilli: number, fence?: LeaderFence): Promise<Resized | undefined> {
    return this.lifecycle.resize(id, toMilli, fence);
  }

  /** The leader's quota enforcement: stops the compute (fenced) if `stillOver` says so once nothing else is in flight. */
  stopForQuota(id: string, stillOver: () => Promise<boolean>, fence: LeaderFence): Promise<ComputeView | undefined> {
    return this.lifecycle.suspendIf(id, 'stop', stillOver, fence);
  }

  /**
   * What the proxy asks before it verifies a login: a user's plugin and verifier, from the
   * state; `fresh` re-reads an awake compute first (the proxy asks so when a password did
   * not match, in case it changed). Never wakes.
   */
  role(projectId: string, user: string, fresh = false): Promise<RoleAnswer> {
    return this.roles.lookup(projectId, user, fresh);
  }

  /** The leader's sweep: operations and computes left by control planes that are gone are taken over. */
  adoptOrphans(): Promise<number> {
    const { store, instances, logger, driver } = this.opts;
    return adoptOrphans({ store, lifecycle: this.lifecycle, instances, placement: driver.placement, logger });
  }

  /** Leaves computes running unless stopComputes; another control plane (or a later start) adopts them. */
  async close(opts: { stopComputes?: boolean } = {}): Promise<void> {
    // Computes about to be stopped are read once more, as a suspend would.
    await this.roles.close({ readFirst: opts.stopComputes ?? false });
    await this.lifecycle.close(opts.stopComputes ?? false);
  }

  private newCompute(project: ProjectRecord, id: string, control: ControlLogin, op: ComputeOp): ComputeRecord {
    return newComputeRecord(project, id, control, op, this.opts.instances.id, this.opts.driver.placement);
  }

  private provisionStorage(project: ProjectRecord, computeId: string, control: ControlLogin): Promise<void> {
    return provisionStorage(this.opts.driver, project, computeId, control, this.opts.provisionTimeoutMs);
  }

  /** Removes the project's compute (process and storage), then the project. */
  private async forget(project: ProjectRecord): Promise<void> {
    if (project.computeId) await this.lifecycle.destroy(project.computeId);
    await this.store.removeProject(project.id);
  }

  private async project(id: string): Promise<ProjectRecord> {
    const p = await this.store.getProject(id);
    if (!p) throw notFound('project_not_found', `project '${id}' does not exist`);
    return p;
  }

  private async compute(id: string): Promise<ComputeRecord> {
    const c = await this.store.getCompute(id);
    if (!c) throw notFound('compute_not_found', `compute ${id} does not exist`);
    return c;
  }

  private async view(p: ProjectRecord): Promise<ProjectView> {
    return projectView(p, p.computeId ? await this.store.getCompute(p.computeId) : undefined);
  }
}
