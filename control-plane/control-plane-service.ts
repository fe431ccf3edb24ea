// Projects and their computes: what the HTTP API (and an embedding process)
// calls. Owns the records and their persistence; compute transitions are
// ComputeLifecycle's. Every method answers with views, never with records, so
// a verifier cannot leak into a response by accident.
import type { Logger } from 'pino';
import { ApiError, badRequest, conflict, notFound } from './api-error.js';
import { ComputeLifecycle } from './compute-lifecycle.js';
import type { ComputeDriver, SuspendTier } from './drivers/driver.js';
import { controlVerifier, generateControlLogin } from './control-account.js';
import { generateOwnerPassword, OWNER_USER, ownerVerifier } from './owner-credentials.js';
import {
  computeView,
  projectNameProblem,
  projectView,
  type ComputeRecord,
  type ComputeView,
  type ProjectRecord,
  type ProjectView,
} from './records.js';
import { ComputeRoles, type RoleAnswer, type ComputeRoleOptions } from './compute-roles.js';
import { createStateStore, type StateStore } from './state-store.js';
import { ComputeKills } from './compute-kill.js';
import type { ProbeTarget } from './compute-prober.js';
import type { ComputeEvent } from './usage-ledger.js';

export interface ControlPlaneServiceOptions {
  dataDir: string;
  driver: ComputeDriver;
  logger: Logger;
  wakeTimeoutMs: number;
  /** Bound on provisioning one compute's storage. */
  provisionTimeoutMs?: number;
  /** Told every compute transition, from the reconcile at open on (usage accounting). */
  onComputeEvent?: (e: ComputeEvent) => void;
  /** Reading users' verifiers from computes (GET /projects/{id}/roles?user=). */
  roles?: ComputeRoleOptions;
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
  private readonly projects = new Map<string, ProjectRecord>();
  private readonly computes = new Map<string, ComputeRecord>();
  /** Project ids with a create (of the project or of its compute) under way. */
  private readonly creating = new Set<string>();
  private readonly lifecycle: ComputeLifecycle;
  private readonly roles: ComputeRoles;
  private readonly kills = new ComputeKills();

  private constructor(
    private readonly o: ControlPlaneServiceOptions,
    private readonly store: StateStore,
  ) {
    this.roles = new ComputeRoles(
      { projects: this.projects, computes: this.computes, persist: () => this.persist(), logger: o.logger.child({ component: 'compute-roles' }) },
      o.roles,
    );
    this.lifecycle = new ComputeLifecycle({
      driver: o.driver,
      computes: this.computes,
      persist: () => this.persist(),
      logger: o.logger,
      wakeTimeoutMs: o.wakeTimeoutMs,
      onEvent: (e) => {
        this.roles.computeEvent(e);
        o.onComputeEvent?.(e);
      },
      beforeSuspend: (c) => this.roles.beforeSuspend(c),
    });
  }

  /** Loads saved state and reconciles every compute with what the driver sees running. */
  static async open(o: ControlPlaneServiceOptions): Promise<ControlPlaneService> {
    const store = createStateStore(o.dataDir);
    const state = await store.load();
    const service = new ControlPlaneService(o, store);
    for (const p of state.projects) service.projects.set(p.id, p);
    for (const c of state.computes) service.computes.set(c.id, c);
    await service.lifecycle.reconcile();
    await service.persist();
    service.roles.start();
    return service;
  }

  get wakeTimeoutMs(): number {
    return this.o.wakeTimeoutMs;
  }

  listProjects(): ProjectView[] {
    return [...this.projects.values()].map((p) => this.view(p));
  }

  getProject(id: string): ProjectView {
    return this.view(this.project(id));
  }

  /** Provisions storage and the owner, starts the compute, and answers once it is active. */
  async createProject(name: unknown): Promise<CreatedProject> {
    const problem = projectNameProblem(name);
    if (problem) throw badRequest('invalid_project_name', problem);
    const id = name as string;
    if (this.projects.has(id) || this.creating.has(id)) throw conflict('project_exists', `project '${id}' already exists`);
    this.creating.add(id);
    try {
      const password = generateOwnerPassword();
      const project: ProjectRecord = {
        id,
        name: id,
        createdAt: new Date().toISOString(),
        ownerUser: OWNER_USER,
        ownerVerifier: ownerVerifier(password),
        computeId: `${id}-c1`,
        computeSeq: 1,
      };
      const compute = await this.provision(project, project.computeId!);
      this.projects.set(id, project);
      this.computes.set(compute.id, compute);
      try {
        await this.persist();
        await this.lifecycle.wake(compute.id, this.o.wakeTimeoutMs);
      } catch (err) {
        // Nobody has the password yet, so a project that failed to come up is useless: undo it.
        await this.forget(project).catch((undoErr) =>
          this.o.logger.error({ err: undoErr, projectId: id }, 'could not undo a failed project creation'),
        );
        throw err;
      }
      const view = this.view(project);
      this.o.logger.info({ projectId: id, computeId: compute.id }, 'project created');
      return { id, name: id, createdAt: view.createdAt, user: view.user, password, compute: view.compute };
    } finally {
      this.creating.delete(id);
    }
  }

  async deleteProject(id: string): Promise<void> {
    const project = this.project(id);
    await this.forget(project);
    this.o.logger.info({ projectId: id }, 'project deleted');
  }

  /** Gives a project without a compute a new one (provisioned, stopped: the next wake starts it). */
  async createCompute(projectId: string): Promise<ComputeView> {
    const project = this.project(projectId);
    if (project.computeId || this.creating.has(projectId)) {
      throw conflict('compute_exists', `project '${projectId}' already has a compute (${project.computeId ?? 'being created'})`);
    }
    this.creating.add(projectId);
    try {
      project.computeSeq += 1;
      const compute = await this.provision(project, `${projectId}-c${project.computeSeq}`);
      this.computes.set(compute.id, compute);
      project.computeId = compute.id;
      await this.persist();
      return computeView(compute);
    } finally {
      this.creating.delete(projectId);
    }
  }

  getCompute(id: string): ComputeView {
    const c = this.computes.get(id);
    if (!c) throw notFound('compute_not_found', `compute ${id} does not exist`);
    return computeView(c);
  }

  async deleteCompute(id: string): Promise<void> {
    const c = this.computes.get(id);
    if (!c) throw notFound('compute_not_found', `compute ${id} does not exist`);
    await this.lifecycle.destroy(id);
    const project = this.projects.get(c.projectId);
    if (project?.computeId === id) project.computeId = null;
    await this.persist();
  }

  suspendCompute(id: string, tier: SuspendTier): Promise<ComputeView> {
    return this.lifecycle.suspend(id, tier);
  }

  listComputes(): ComputeView[] {
    return [...this.computes.values()].map(computeView);
  }

  /** Active computes as the health prober needs them (compute-prober.ts); credentials stay in the control plane. */
  activeComputes(): ProbeTarget[] {
    const out: ProbeTarget[] = [];
    for (const c of this.computes.values()) {
      if (c.state === 'active' && c.endpoint) out.push({ id: c.id, endpoint: c.endpoint, updatedAt: c.updatedAt, ...(c.control ? { control: c.control } : {}) });
    }
    return out;
  }

  /** The idle scheduler's suspend: `stillIdle` decides inside the compute's queue (see ComputeLifecycle.suspendIf). */
  suspendComputeIf(id: string, tier: SuspendTier, stillIdle: (c: ComputeView) => Promise<boolean>): Promise<ComputeView | undefined> {
    return this.lifecycle.suspendIf(id, tier, stillIdle);
  }

  lastWakeAt(computeId: string): number | undefined {
    return this.lifecycle.lastWakeAt(computeId);
  }

  resumeCompute(id: string, timeoutMs = this.o.wakeTimeoutMs): Promise<ComputeView> {
    return this.lifecycle.wake(id, timeoutMs);
  }

  /** Stops the statement `thread` runs on an active compute, as the control account (compute-kill.ts). */
  killQuery(id: string, thread: number): Promise<{ killed: boolean }> {
    const c = this.computes.get(id);
    if (!c) throw notFound('compute_not_found', `compute ${id} does not exist`);
    return this.kills.killQuery(c, thread);
  }

  /**
   * A health probe found an active compute unresponsive (compute-prober.ts): reported
   * failed, stopped and started again. False when it changed since the probe began.
   */
  restartUnresponsive(id: string, reason: string, seenUpdatedAt: string): Promise<boolean> {
    return this.lifecycle.restartUnresponsive(id, reason, seenUpdatedAt);
  }

  /** What the proxy calls: the project's compute address once it serves. */
  async wakeProject(projectId: string, timeoutMs = this.o.wakeTimeoutMs): Promise<WakeAnswer> {
    const project = this.project(projectId);
    if (!project.computeId) {
      throw new ApiError(409, 'no_compute', `project '${projectId}' has no compute; create one with POST /api/v1/projects/${projectId}/compute`);
    }
    return { project: projectId, compute: await this.lifecycle.wake(project.computeId, timeoutMs) };
  }

  /**
   * What the proxy asks before it verifies a login: a user's plugin and verifier, from the
   * state; `fresh` re-reads an awake compute first (the proxy asks so when a password did
   * not match, in case it changed). Never wakes.
   */
  role(projectId: string, user: string, fresh = false): Promise<RoleAnswer> {
    return this.roles.lookup(projectId, user, fresh);
  }

  /** Leaves computes running unless stopComputes; a later start adopts them. */
  async close(opts: { stopComputes?: boolean } = {}): Promise<void> {
    // Computes about to be stopped are read once more, as a suspend would.
    await this.roles.close({ readFirst: opts.stopComputes ?? false });
    await this.lifecycle.close(opts.stopComputes ?? false);
    await this.persist();
  }

  private async provision(project: ProjectRecord, computeId: string): Promise<ComputeRecord> {
    const signal = AbortSignal.timeout(this.o.provisionTimeoutMs ?? 120_000);
    const control = generateControlLogin();
    try {
      // Leftovers under this id can only come from a creation that never finished.
      await this.o.driver.destroy(computeId);
      await this.o.driver.provision(
        {
          computeId,
          projectId: project.id,
          ownerUser: project.ownerUser,
          ownerVerifier: project.ownerVerifier,
          control: { user: control.user, verifier: controlVerifier(control) },
        },
        signal,
      );
    } catch (err) {
      const cause = err instanceof Error ? err.message : String(err);
      throw new ApiError(503, 'provision_failed', `project '${project.id}': could not provision compute ${computeId}: ${cause}`, { cause: err });
    }
    const now = new Date().toISOString();
    return { id: computeId, projectId: project.id, state: 'stopped', createdAt: now, updatedAt: now, resumeCount: 0, control };
  }

  /** Removes the project's compute (process and storage), then the project. */
  private async forget(project: ProjectRecord): Promise<void> {
    if (project.computeId && this.computes.has(project.computeId)) {
      await this.lifecycle.destroy(project.computeId);
    }
    this.projects.delete(project.id);
    await this.persist();
  }

  private project(id: string): ProjectRecord {
    const p = this.projects.get(id);
    if (!p) throw notFound('project_not_found', `project '${id}' does not exist`);
    return p;
  }

  private view(p: ProjectRecord): ProjectView {
    return projectView(p, p.computeId ? this.computes.get(p.computeId) : undefined);
  }

  private persist(): Promise<void> {
    return this.store.save(() => ({
      version: 1,
      projects: [...this.projects.values()],
      computes: [...this.computes.values()],
    }));
  }
}
