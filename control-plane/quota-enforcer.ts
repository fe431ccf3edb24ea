// The leader's half of quotas: a compute that crosses its project's quota
// while awake is stopped, as the idle scheduler would stop it (in its
// operation queue, fenced by the term, and only if the project is still over
// once nothing else is in flight). Its clients' next connects are refused by
// the wake (quota-check.ts) until the quota is raised or the month turns.
import type { Logger } from 'pino';
import type { ComputeView, ComputeRecord, ProjectRecord } from './records.js';
import type { ControlPlaneMetrics } from './metrics.js';
import { quotaProblem, type QuotaSources } from './quota-check.js';
import type { LeaderFence } from './store/state-store.js';

export interface QuotaTargets {
  computeRecords(): Promise<ComputeRecord[]>;
  projectRecord(id: string): Promise<ProjectRecord | undefined>;
  stopForQuota(id: string, stillOver: () => Promise<boolean>, fence: LeaderFence): Promise<ComputeView | undefined>;
}

/** One pass: answers how many computes it stopped. */
export async function enforceQuotas(
  targets: QuotaTargets,
  sources: QuotaSources,
  fence: LeaderFence,
  logger: Logger,
  metrics: ControlPlaneMetrics,
): Promise<number> {
  let stopped = 0;
  for (const c of await targets.computeRecords()) {
    if (c.state !== 'active' && c.state !== 'frozen') continue;
    const project = await targets.projectRecord(c.projectId);
    if (!project || (project.quota.cuMsPerMonth === null && project.quota.storageBytes === null)) continue;
    const problem = await quotaProblem(sources, project);
    if (!problem) continue;
    const stillOver = async () => {
      const now = await targets.projectRecord(c.projectId);
      return now !== undefined && (await quotaProblem(sources, now)) !== undefined;
    };
    if (await targets.stopForQuota(c.id, stillOver, fence)) {
      stopped++;
      metrics.quotaRefusals.inc({ action: 'stopped' });
      logger.warn({ computeId: c.id, projectId: c.projectId, problem }, 'compute stopped: its project is over its quota');
    }
  }
  return stopped;
}
