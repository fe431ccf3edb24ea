// The contract every compute driver (local `mariadbd` processes, Kubernetes
// StatefulSets) implements. The control plane owns the records and the state
// machine; a driver only does what it is told and reports what really runs.

import type { SizeResources } from '../compute-size.js';

export interface ComputeEndpoint {
  host: string;
  port: number;
  /**
   * The size it started at, when the driver could not start it at the one
   * asked (Kubernetes: its pod template's); absent when it is the one asked.
   */
  sizeMilli?: number;
}

/** What setting a compute's limits did. */
export type LimitsOutcome = { enforced: true; how: string } | { enforced: false; why: string };

/** A compute's own use as the driver sees it; a field it cannot see is absent. */
export interface ComputeUsage {
  /** CPU time used since it started (seconds), to take rates from. */
  cpuSecondsTotal?: number;
  /** CPUs in use now, where the driver reads a rate rather than a total (Kubernetes metrics). */
  cpuCores?: number;
  /** Resident memory. */
  memoryBytes?: number;
}

/** `freeze` keeps memory and resumes in milliseconds; `stop` frees everything. */
export type SuspendTier = 'freeze' | 'stop';

/** What the driver sees running, independent of what the control plane believes. */
export type ObservedState = 'running' | 'frozen' | 'stopped';

export interface ObservedCompute {
  state: ObservedState;
  endpoint?: ComputeEndpoint;
}

export interface ProvisionRequest {
  computeId: string;
  projectId: string;
  ownerUser: string;
  /** `mysql_native_password` verifier as MariaDB stores it: '*' + HEX(SHA1(SHA1(password))). */
  ownerVerifier: string;
  /** The control plane's account (role verifiers, resizing); the driver picks the host it may connect from. */
  control?: { user: string; verifier: string };
  /** The size it starts at, where the driver fixes that at provisioning (Kubernetes: the pod template); default the smallest. */
  size?: SizeResources;
}

export interface ComputeDriver {
  readonly kind: string;
  /**
   * Where this driver's computes live, e.g. `process:<host>:<data dir>` or
   * `kubernetes:<namespace>`. A compute is only operated by control planes
   * whose driver has its placement: a process-driver compute cannot be started
   * from another host or another data directory.
   */
  readonly placement: string;
  /** Whether `suspend(id, 'freeze')` keeps memory; drivers without it treat freeze as stop. */
  readonly supportsFreeze: boolean;
  /** Create the compute's storage and its owner account. Idempotent. */
  provision(req: ProvisionRequest, signal?: AbortSignal): Promise<void>;
  /**
   * Bring the compute to serving from any tier; resolves once it accepts
   * connections. A start from stopped starts at `size` (default the
   * smallest); a thaw keeps the size it had.
   */
  resume(computeId: string, signal: AbortSignal, size?: SizeResources): Promise<ComputeEndpoint>;
  /**
   * Sets the running compute's CPU and memory limits to `size`, without a
   * restart. Resolves with what it did (limits it cannot enforce on this host
   * are said, not thrown); rejects when the size must not change (the limits
   * stay as they were).
   */
  applyLimits(computeId: string, size: SizeResources, signal: AbortSignal): Promise<LimitsOutcome>;
  /** The running compute's CPU and memory use, as far as the driver sees it. */
  usage(computeId: string, signal: AbortSignal): Promise<ComputeUsage>;
  suspend(computeId: string, tier: SuspendTier): Promise<void>;
  /** Stop the compute and remove its storage. */
  destroy(computeId: string): Promise<void>;
  /** Ask what really runs: used to reconcile after a restart and to notice crashes. */
  observe(computeId: string): Promise<ObservedCompute>;
  /**
   * Take over a compute another control plane started and died with: find what
   * runs, including a start it left half done (waited for, bounded by signal),
   * and watch it for crashes from now on.
   */
  adopt(computeId: string, signal: AbortSignal): Promise<ObservedCompute>;
  /** Called when a compute stops without being told to (crash, OOM kill, pod gone). */
  onUnexpectedExit(listener: (computeId: string, reason: string) => void): void;
  /** Release watchers and timers. Leaves computes running unless `stopComputes`. */
  close(opts?: { stopComputes?: boolean }): Promise<void>;
}
