// The `kubernetes` compute driver: one StatefulSet of at most one pod per
// compute, its data on a PersistentVolumeClaim. Resume scales to 1 and waits
// for the pod to be Ready; suspend scales to 0 (Kubernetes cannot freeze a
// pod, so both tiers stop it). Scaling and waiting live in
// kube/scale.ts, shared with the proxy's direct mode. A pod starts at the
// size its template was given at provisioning (its project's minimum then);
// resizes go through the pod's resize subresource (kubernetes-resize.ts).
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { abortable, isAlreadyExists, isNotFound, kubeErrorMessage } from '../../kube/kube-api.js';
import { deadline } from '../../util/deadline.js';
import { isPodReady, KubeWaitError } from '../../kube/pod-wait.js';
import { kubeClients, podOf, readReplicas, scaleDownAndWaitGone, scaleUpAndWaitReady } from '../../kube/scale.js';
import { CPU_MILLICORES_PER_CU, type SizeResources } from '../compute-size.js';
import type { ComputeDriver, ComputeEndpoint, LimitsOutcome, ObservedCompute, ProvisionRequest } from './driver.js';
import { PodExitWatch } from './kubernetes-exit-watch.js';
import { podLimits, podUsage, resizePod } from './kubernetes-resize.js';
import {
  COMPUTE_APP,
  LABEL_APP,
  LABEL_COMPUTE,
  computeName,
  computeStatefulSet,
  headlessService,
  initSecret,
  initSecretName,
  type ComputeShape,
} from './kubernetes-manifests.js';

export interface KubernetesDriverOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  image?: string;
  storageSize?: string;
  storageClassName?: string;
  /** Bound on a resume: scheduling, volume attach, image pull, InnoDB recovery. */
  readyTimeoutMs?: number;
  /** Bound on a suspend: the pod's graceful shutdown (terminationGracePeriodSeconds is 30). */
  stopTimeoutMs?: number;
  /** Bound on the kubelet applying a resize; default 30000. */
  resizeTimeoutMs?: number;
  port?: number;
  logger?: Logger;
}

/** Bound on one plain API call (create, delete, read). */
const API_TIMEOUT_MS = 15_000;

export function createKubernetesDriver(opts: KubernetesDriverOptions): ComputeDriver {
  const ns = opts.namespace;
  const k = kubeClients(opts.kubeConfig, ns, opts.logger);
  const shape: ComputeShape = {
    namespace: ns,
    image: opts.image ?? 'mariadb:10.11',
    port: opts.port ?? 3306,
    storageSize: opts.storageSize ?? '1Gi',
    storageClassName: opts.storageClassName,
  };
  const readyTimeoutMs = opts.readyTimeoutMs ?? 120_000;
  const stopTimeoutMs = opts.stopTimeoutMs ?? 60_000;
  const exits = new PodExitWatch(opts.kubeConfig, ns, opts.logger);
  const subject = (computeId: string) => `compute '${computeId}'`;

  /** An error that names the step, the compute, the namespace and Kubernetes' own words. */
  function failure(step: string, computeId: string, err: unknown): Error {
    if (err instanceof KubeWaitError) return err;
    return new Error(`${subject(computeId)} in namespace '${ns}': ${step}: ${kubeErrorMessage(err)}`, { cause: err });
  }

  /** API calls under one bound of their own (and the caller's signal). */
  async function call<T>(fn: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const d = deadline(API_TIMEOUT_MS, signal);
    try {
      return await fn(d.signal);
    } finally {
      d.done();
    }
  }

  async function createIfMissing(what: string, computeId: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (!isAlreadyExists(err)) throw failure(`create ${what}`, computeId, err);
    }
  }

  async function deleteIfPresent(what: string, computeId: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (!isNotFound(err)) throw failure(`delete ${what}`, computeId, err);
    }
  }

  async function stop(computeId: string): Promise<void> {
    const name = computeName(computeId);
    exits.expect(computeId, false);
    try {
      await scaleDownAndWaitGone(k, name, { timeoutMs: stopTimeoutMs, subject: subject(computeId) });
    } catch (err) {
      if (!isNotFound(err)) throw failure(`scale StatefulSet ${name} to 0`, computeId, err);
    }
  }

  async function observe(computeId: string): Promise<ObservedCompute> {
    const name = computeName(computeId);
    try {
      const replicas = await call((s) => readReplicas(k, name, s));
      if (replicas < 1) return { state: 'stopped' };
      const pods = await call((s) =>
        k.core.listNamespacedPod({ namespace: ns, labelSelector: `statefulset.kubernetes.io/pod-name=${podOf(name)}` }, abortable(s)),
      );
      const pod = pods.items.find((p) => p.metadata?.name === podOf(name));
      // A pod still starting is not serving: report stopped, and a resume will wait for it.
      if (!isPodReady(pod)) return { state: 'stopped' };
      return { state: 'running', endpoint: { host: pod.status!.podIP!, port: shape.port } };
    } catch (err) {
      if (isNotFound(err)) return { state: 'stopped' };
      throw failure(`observe StatefulSet ${name}`, computeId, err);
    }
  }

  return {
    kind: 'kubernetes',
    // Every control plane in the namespace reaches every compute in it.
    placement: `kubernetes:${ns}`,
    supportsFreeze: false,
    observe,

    // A scale-up another control plane asked for goes on by itself: a resume then waits for its pod.
    async adopt(computeId: string): Promise<ObservedCompute> {
      const seen = await observe(computeId);
      if (seen.state === 'running') exits.expect(computeId, true);
      return seen;
    },

    async provision(req: ProvisionRequest, signal?: AbortSignal): Promise<void> {
      const name = computeName(req.computeId);
      // The Secret first: the pod mounts it, and creating things in order keeps a half-done provision retryable.
      const secret = initSecret(req, shape);
      const service = headlessService(req, shape);
      const sts = computeStatefulSet(req, shape);
      await createIfMissing(`Secret ${secret.metadata!.name}`, req.computeId, () =>
        call((s) => k.core.createNamespacedSecret({ namespace: ns, body: secret }, abortable(s)), signal),
      );
      await createIfMissing(`Service ${name}`, req.computeId, () =>
        call((s) => k.core.createNamespacedService({ namespace: ns, body: service }, abortable(s)), signal),
      );
      await createIfMissing(`StatefulSet ${name}`, req.computeId, () =>
        call((s) => k.apps.createNamespacedStatefulSet({ namespace: ns, body: sts }, abortable(s)), signal),
      );
      opts.logger?.info({ computeId: req.computeId, projectId: req.projectId, namespace: ns }, 'compute provisioned');
    },

    async resume(computeId: string, signal: AbortSignal, size?: SizeResources): Promise<ComputeEndpoint> {
      const name = computeName(computeId);
      try {
        const addr = await scaleUpAndWaitReady(k, name, { port: shape.port, timeoutMs: readyTimeoutMs, subject: subject(computeId), signal });
        exits.expect(computeId, true);
        // The pod has its template's size, fixed at provisioning; say so when that is not the one asked.
        const limits = podLimits(addr.pod);
        const started = limits ? (limits.cpuMillicores * 1000) / CPU_MILLICORES_PER_CU : undefined;
        const differs = size && started !== undefined && started !== size.milli;
        return { host: addr.host, port: addr.port, ...(differs ? { sizeMilli: started } : {}) };
      } catch (err) {
        if (isNotFound(err)) throw failure(`StatefulSet ${name} does not exist (not provisioned?)`, computeId, err);
        throw failure(`scale StatefulSet ${name} to 1`, computeId, err);
      }
    },

    // Both tiers stop: a pod cannot be frozen with its memory kept.
    suspend: (computeId: string) => stop(computeId),

    async applyLimits(computeId: string, size: SizeResources, signal: AbortSignal): Promise<LimitsOutcome> {
      const pod = podOf(computeName(computeId));
      await resizePod(k, pod, size, opts.resizeTimeoutMs ?? 30_000, signal).catch((err: unknown) => {
        throw failure(`resize pod ${pod}`, computeId, err);
      });
      return { enforced: true, how: 'pod resize' };
    },

    usage: (computeId: string, signal: AbortSignal) => call((s) => podUsage(k, podOf(computeName(computeId)), s), signal),

    async destroy(computeId: string): Promise<void> {
      const name = computeName(computeId);
      await stop(computeId);
      await deleteIfPresent(`StatefulSet ${name}`, computeId, () => call((s) => k.apps.deleteNamespacedStatefulSet({ name, namespace: ns }, abortable(s))));
      await deleteIfPresent(`Service ${name}`, computeId, () => call((s) => k.core.deleteNamespacedService({ name, namespace: ns }, abortable(s))));
      const secret = initSecretName(computeId);
      await deleteIfPresent(`Secret ${secret}`, computeId, () => call((s) => k.core.deleteNamespacedSecret({ name: secret, namespace: ns }, abortable(s))));
      // The retention policy deletes claims with the set, but only on clusters that honour it (1.27+): delete them too.
      const claims = await call((s) =>
        k.core.listNamespacedPersistentVolumeClaim({ namespace: ns, labelSelector: `${LABEL_COMPUTE}=${computeId}` }, abortable(s)),
      ).catch((err: unknown) => {
        throw failure('list PersistentVolumeClaims', computeId, err);
      });
      for (const claim of claims.items) {
        const claimName = claim.metadata!.name!;
        await deleteIfPresent(`PersistentVolumeClaim ${claimName}`, computeId, () =>
          call((s) => k.core.deleteNamespacedPersistentVolumeClaim({ name: claimName, namespace: ns }, abortable(s))),
        );
      }
      opts.logger?.info({ computeId, namespace: ns, claims: claims.items.length }, 'compute destroyed');
    },

    onUnexpectedExit(listener: (computeId: string, reason: string) => void): void {
      exits.add(listener);
    },

    async close(closeOpts?: { stopComputes?: boolean }): Promise<void> {
      exits.close();
      if (!closeOpts?.stopComputes) return;
      const sets = await call((s) => k.apps.listNamespacedStatefulSet({ namespace: ns, labelSelector: `${LABEL_APP}=${COMPUTE_APP}` }, abortable(s)));
      const stops = sets.items.map((s) =>
        scaleDownAndWaitGone(k, s.metadata!.name!, { timeoutMs: stopTimeoutMs, subject: `StatefulSet ${s.metadata!.name}` }),
      );
      const failed = (await Promise.allSettled(stops)).filter((r) => r.status === 'rejected');
      if (failed.length) {
        throw new Error(`kubernetes driver: ${failed.length} compute(s) in namespace '${ns}' did not stop: ${(failed[0] as PromiseRejectedResult).reason}`);
      }
    },
  };
}
