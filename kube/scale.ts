// Scale a compute's StatefulSet through its scale subresource and wait for its
// one pod: the single place both the control plane's Kubernetes driver and the
// proxy's direct Kubernetes mode wake and put computes to sleep.
//
// The scale subresource, not a patch of the StatefulSet: it is the narrowest
// permission (`statefulsets/scale`), the one autoscalers use, and it cannot
// touch the pod template by accident.
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { abortable } from './kube-api.js';
import { deadline, type Deadline } from '../util/deadline.js';
import { KubeWaitError, waitForPodGone, waitForPodReady, type PodWaitTarget } from './pod-wait.js';

export interface KubeClients {
  kubeConfig: KubeConfig;
  apps: AppsV1Api;
  core: CoreV1Api;
  namespace: string;
  logger?: Logger | undefined;
}

export function kubeClients(kubeConfig: KubeConfig, namespace: string, logger?: Logger): KubeClients {
  return {
    kubeConfig,
    apps: kubeConfig.makeApiClient(AppsV1Api),
    core: kubeConfig.makeApiClient(CoreV1Api),
    namespace,
    logger,
  };
}

/** A StatefulSet's single pod: ordinal 0 is the only one a compute has. */
export function podOf(statefulSet: string): string {
  return `${statefulSet}-0`;
}

/** Desired replicas; an ApiException 404 passes through for the caller to name. */
export async function readReplicas(k: KubeClients, statefulSet: string, signal?: AbortSignal): Promise<number> {
  const scale = await k.apps.readNamespacedStatefulSetScale(
    { name: statefulSet, namespace: k.namespace },
    signal ? abortable(signal) : undefined,
  );
  return scale.spec?.replicas ?? 0;
}

/**
 * Unconditional (no resourceVersion): "replicas = n" is an absolute command,
 * so racing writers (several proxies, the idle scheduler) cannot conflict in a
 * way a retry would fix; the last one wins, as it should.
 */
export async function setReplicas(k: KubeClients, statefulSet: string, replicas: number, signal?: AbortSignal): Promise<void> {
  await k.apps.replaceNamespacedStatefulSetScale(
    {
      name: statefulSet,
      namespace: k.namespace,
      body: { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: statefulSet, namespace: k.namespace }, spec: { replicas } },
    },
    signal ? abortable(signal) : undefined,
  );
}

export interface WakeOptions {
  port: number;
  timeoutMs: number;
  /** For errors and logs: "compute 'c1'", "project 'shop'". */
  subject: string;
  signal?: AbortSignal | undefined;
  /** Skip reading the scale first (the caller knows it must write). */
  knownReplicas?: number;
}

export interface PodAddress {
  host: string;
  port: number;
  pod: V1Pod;
}

/**
 * Scale to 1 unless already there, then wait for the pod to be Ready; all of
 * it within `timeoutMs`. API errors (404 included) pass through untouched.
 */
export async function scaleUpAndWaitReady(k: KubeClients, statefulSet: string, o: WakeOptions): Promise<PodAddress> {
  const started = performance.now();
  const pod = await bounded(k, statefulSet, o, async (d) => {
    const replicas = o.knownReplicas ?? (await readReplicas(k, statefulSet, d.signal));
    if (replicas < 1) {
      await setReplicas(k, statefulSet, 1, d.signal);
      k.logger?.info({ namespace: k.namespace, statefulSet, subject: o.subject }, 'scaled to 1');
    }
    return waitForPodReady(target(k, statefulSet, o.subject), { remainingMs: d.remainingMs(), totalMs: o.timeoutMs }, o.signal);
  });
  k.logger?.debug({ namespace: k.namespace, statefulSet, ms: Math.round(performance.now() - started) }, 'pod ready');
  return { host: pod.status!.podIP!, port: o.port, pod };
}

/** Scale to 0 and wait until the pod is gone, so its volume is free for the next start. */
export async function scaleDownAndWaitGone(
  k: KubeClients,
  statefulSet: string,
  o: { timeoutMs: number; subject: string; signal?: AbortSignal },
): Promise<void> {
  await bounded(k, statefulSet, o, async (d) => {
    await setReplicas(k, statefulSet, 0, d.signal);
    k.logger?.info({ namespace: k.namespace, statefulSet, subject: o.subject }, 'scaled to 0');
    await waitForPodGone(target(k, statefulSet, o.subject), { remainingMs: d.remainingMs(), totalMs: o.timeoutMs }, o.signal);
  });
}

/** Runs `fn` under one deadline; an API call cut off by it becomes a timeout KubeWaitError. */
async function bounded<T>(
  k: KubeClients,
  statefulSet: string,
  o: { timeoutMs: number; subject: string; signal?: AbortSignal | undefined },
  fn: (d: Deadline) => Promise<T>,
): Promise<T> {
  const d = deadline(o.timeoutMs, o.signal);
  try {
    return await fn(d);
  } catch (err) {
    if (err instanceof KubeWaitError) throw err;
    const where = `${o.subject} in namespace '${k.namespace}'`;
    if (d.timedOut) {
      throw new KubeWaitError('timeout', `${where}: scaling StatefulSet ${statefulSet} did not finish within ${o.timeoutMs} ms`, { cause: err });
    }
    if (o.signal?.aborted) {
      throw new KubeWaitError('aborted', `${where}: scaling StatefulSet ${statefulSet} aborted`, { cause: o.signal.reason });
    }
    throw err;
  } finally {
    d.done();
  }
}

export function target(k: KubeClients, statefulSet: string, subject: string): PodWaitTarget {
  return { kubeConfig: k.kubeConfig, core: k.core, namespace: k.namespace, podName: podOf(statefulSet), subject, logger: k.logger };
}
