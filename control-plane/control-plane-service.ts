// Projects and their computes: what the HTTP API (and an embedding process)
// calls. The records live in the state store, shared by every control plane
// on it; compute transitions are ComputeLifecycle's. Every method answers with
// views, never with records, so a verifier cannot leak into a response by
// accident. The project writes themselves (create, change, add a compute,
// remove) are project-operations.ts's; this class answers for them.
import type { Logger } from 'pino';
import { ApiError, notFound } from './api-error.js';
import { ComputeLifecycle } from './compute-lifecycle.js';
import type { Resized } from './compute-resize.js';
import { ensureWithinQuota, type QuotaSources } from './quota-check.js';
import type { ComputeDriver, SuspendTier } from './drivers/driver.js';
import { adoptOrphans } from './orphan-adoption.js';
import { createCompute, createProject, forgetProject, updateProject, type ProjectContext } from './project-operations.js';
import { computeView, idleCandidate, projectView, type ComputeRecord, type ComputeView, type IdleCandidate, type ProjectRecord, type ProjectView } from './records.js';
import { ComputeRoles, type RoleAnswer, type ComputeRoleOptions } from './compute-roles.js';
import type { InstanceRegistry } from './instance-registry.js';
import type { LeaderFence, StateStore } from './store/state-store.js';
import { ComputeKills } from './compute-kill.js';
import { ComputeGreetings, type KeptGreeting } from './compute-greeting.js';
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
  private readonly projects: ProjectContext;
  private readonly roles: ComputeRoles;
  private readonly greetings: ComputeGreetings;
  private readonly kills = new ComputeKills();
  private readonly store: StateStore;

  constructor(private readonly opts: ControlPlaneServiceOptions) {
    this.store = opts.store;
    this.greetings = new ComputeGreetings({ store: opts.store, logger: opts.logger.child({ component: 'compute-greeting' }) });
    this.roles = new ComputeRoles({ store: opts.store, isLeader: opts.isLeader, logger: opts.logger.child({ component: 'compute-roles' }) }, opts.roles);
    this.lifecycle = new ComputeLifecycle({
      store: opts.store,
      driver: opts.driver,
      me: opts.instances.id,
      alive: (id) => opts.instances.alive(id),
      selfAlive: () => opts.instances.selfAlive(),
      logger: opts.logger,
      wakeTimeoutMs: opts.wakeTimeoutMs,
      onTransition: (t) => {
        this.roles.computeTransition(t);
        this.greetings.computeTransition(t);
      },
      beforeSuspend: (c) => this.roles.beforeSuspend(c),
      startSize: async (c) => (await this.store.getProject(c.projectId))?.range.minMilli ?? c.sizeMilli,
    });
    const { store, driver, logger, wakeTimeoutMs, provisionTimeoutMs } = opts;
    this.projects = { store, driver, lifecycle: this.lifecycle, me: opts.instances.id, logger, wakeTimeoutMs, provisionTimeoutMs };
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
    const { project, password } = await createProject(this.projects, body);
    const id = project.id;
    const view = await this.getProject(id);
    this.opts.logger.info({ projectId: id, computeId: project.computeId }, 'project created');
    return { id, name: id, createdAt: view.createdAt, user: view.user, password, compute: view.compute };
  }

  /** Changes a project's range or quota (see project-operations.ts). */
  async updateProject(id: string, body: Record<string, unknown> | undefined): Promise<ProjectView> {
    return this.view(await updateProject(this.projects, await this.project(id), body));
  }

  async deleteProject(id: string): Promise<void> {
    await forgetProject(this.projects, await this.project(id));
    this.opts.logger.info({ projectId: id }, 'project deleted');
  }

  /** Gives a project without a compute a new one (provisioned, stopped: the next wake starts it). */
  async createCompute(projectId: string): Promise<ComputeView> {
    return computeView(await createCompute(this.projects, await this.project(projectId)));
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

  /** What GET /api/v1/greeting answers: the greeting of the compute a control plane last started (compute-greeting.ts). */
  async computeGreeting(): Promise<KeptGreeting> {
    const facts = await this.greetings.latest();
    if (!facts) throw notFound('no_greeting_yet', 'no compute has been started yet');
    return facts;
  }

  /** Leaves computes running unless stopComputes; another control plane (or a later start) adopts them. */
  async close(opts: { stopComputes?: boolean } = {}): Promise<void> {
    // Computes about to be stopped are read once more, as a suspend would.
    await this.roles.close({ readFirst: opts.stopComputes ?? false });
    await this.lifecycle.close(opts.stopComputes ?? false);
    await this.greetings.close();
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
