// Records for tests of the state store and of what runs on it: a project and
// its first compute, stopped, at the smallest size of the default range.
import type { ComputeRecord, ProjectRecord } from '../../control-plane/records.js';

const EPOCH = new Date(0).toISOString();

export function testProject(id: string, extra: Partial<ProjectRecord> = {}): ProjectRecord {
  return {
    id,
    name: id,
    createdAt: EPOCH,
    ownerUser: 'owner',
    ownerVerifier: '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19',
    computeId: `${id}-c1`,
    computeSeq: 1,
    range: { minMilli: 250, maxMilli: 1000 },
    quota: { cuMsPerMonth: null, storageBytes: null },
    ...extra,
  };
}

export function testCompute(projectId: string, extra: Partial<ComputeRecord> = {}): ComputeRecord {
  return {
    id: `${projectId}-c1`,
    projectId,
    state: 'stopped',
    createdAt: EPOCH,
    updatedAt: EPOCH,
    resumeCount: 0,
    version: 1,
    sizeMilli: 250,
    ...extra,
  } as ComputeRecord;
}
