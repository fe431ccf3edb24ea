// Waiting for one pod to become Ready, or to be gone, with a hard bound.
// List first, then watch from the list's resourceVersion, so no change between
// the two is missed; if the API refuses the watch (RBAC without `watch`, a proxy
// that breaks streaming) poll the list instead. A watch the server ends
// normally is resumed with a fresh list.
import { setTimeout as sleep } from 'node:timers/promises';
import { Watch, type CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { abortable, kubeErrorMessage } from './kube-api.js';
import { deadline } from '../util/deadline.js';

export interface PodWaitTarget {
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  namespace: string;
  podName: string;
  /** Who waits, for errors and logs: "compute 'c1'", "project 'shop'". */
  subject: string;
  logger?: Logger | undefined;
}

export type KubeWaitFailure = 'timeout' | 'aborted' | 'failed';

export class KubeWaitError extends Error {
  override readonly name = 'KubeWaitError';
  constructor(readonly reason: KubeWaitFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

const POLL_MS = 250;
/** Container states that will not turn Ready by waiting: fail now, not at the bound. */
const HOPELESS = new Set(['CrashLoopBackOff', 'ErrImageNeverPull', 'InvalidImageName', 'CreateContainerConfigError']);

export function isPodReady(pod: V1Pod | null | undefined): pod is V1Pod {
  if (!pod || pod.metadata?.deletionTimestamp || !pod.status?.podIP) return false;
  return pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** "phase Running; Ready=False (ContainersNotReady: ...); mariadb waiting: CrashLoopBackOff" */
export function describePod(pod: V1Pod | null | undefined): string {
  if (!pod) return 'no pod exists';
  const parts = [`phase ${pod.status?.phase ?? 'unknown'}`];
  if (pod.metadata?.deletionTimestamp) parts.push('terminating');
  for (const c of pod.status?.conditions ?? []) {
    const why = [c.reason, c.message].filter(Boolean).join(': ');
    parts.push(`${c.type}=${c.status}${why ? ` (${why})` : ''}`);
  }
  for (const s of pod.status?.containerStatuses ?? []) {
    const w = s.state?.waiting;
    if (w) parts.push(`${s.name} waiting: ${w.reason ?? 'unknown'}${w.message ? ` (${w.message})` : ''}`);
    if (s.restartCount) parts.push(`${s.name} restarted ${s.restartCount}x`);
  }
  return parts.join('; ');
}

function hopeless(pod: V1Pod | null): string | undefined {
  if (pod?.status?.phase === 'Failed' || pod?.status?.phase === 'Succeeded') return `pod ${pod.status.phase}`;
  const waiting = pod?.status?.containerStatuses?.find((s) => HOPELESS.has(s.state?.waiting?.reason ?? ''));
  return waiting ? `${waiting.name} ${waiting.state!.waiting!.reason}` : undefined;
}

/** How long to wait, and the whole bound to name in errors when part of it is already spent. */
export interface WaitBound {
  remainingMs: number;
  totalMs: number;
}

/** Resolves with the Ready pod (it has a podIP). */
export async function waitForPodReady(t: PodWaitTarget, bound: WaitBound, signal?: AbortSignal): Promise<V1Pod> {
  const pod = await waitForPod(t, { name: 'Ready', done: isPodReady, fatal: hopeless }, bound, signal);
  return pod!;
}

export async function waitForPodGone(t: PodWaitTarget, bound: WaitBound, signal?: AbortSignal): Promise<void> {
  await waitForPod(t, { name: 'gone', done: (pod) => pod === null, fatal: () => undefined }, bound, signal);
}

interface Goal {
  name: string;
  done: (pod: V1Pod | null) => boolean;
  /** Why the goal can no longer be reached, if so. */
  fatal: (pod: V1Pod | null) => string | undefined;
}

type Outcome = { kind: 'matched'; pod: V1Pod | null } | { kind: 'ended' } | { kind: 'failed'; err: unknown };

async function waitForPod(t: PodWaitTarget, goal: Goal, limit: WaitBound, outer?: AbortSignal): Promise<V1Pod | null> {
  const bound = deadline(limit.remainingMs, outer);
  const signal = bound.signal;
  const where = `${t.subject} in namespace '${t.namespace}'`;
  const labelSelector = `statefulset.kubernetes.io/pod-name=${t.podName}`;
  let last: V1Pod | null = null;
  let useWatch = true;
  try {
    for (;;) {
      const list = await t.core.listNamespacedPod({ namespace: t.namespace, labelSelector }, abortable(signal));
      last = list.items.find((p) => p.metadata?.name === t.podName) ?? null;
      if (goal.done(last)) return last;
      const why = goal.fatal(last);
      if (why) throw new KubeWaitError('failed', `${where}: pod ${t.podName} cannot become ${goal.name}: ${why} (${describePod(last)})`);
      if (!useWatch) {
        await sleep(POLL_MS, undefined, { signal });
        continue;
      }
      const outcome = await watchOnce(t, labelSelector, list.metadata?.resourceVersion, goal, signal, (p) => (last = p));
      if (outcome.kind === 'matched') return outcome.pod;
      if (outcome.kind === 'failed') {
        t.logger?.debug({ namespace: t.namespace, pod: t.podName, err: kubeErrorMessage(outcome.err) }, 'pod watch refused; polling');
        useWatch = false;
      } else {
        // The server closed the watch (its timeout, a restart): list again, gently.
        await sleep(POLL_MS, undefined, { signal });
      }
    }
  } catch (err) {
    if (err instanceof KubeWaitError) throw err;
    const state = describePod(last);
    if (bound.timedOut) {
      throw new KubeWaitError('timeout', `${where}: pod ${t.podName} not ${goal.name} within ${limit.totalMs} ms (${state})`);
    }
    if (outer?.aborted) {
      throw new KubeWaitError('aborted', `${where}: wait for pod ${t.podName} to be ${goal.name} aborted (${state})`, { cause: outer.reason });
    }
    throw new KubeWaitError('failed', `${where}: waiting for pod ${t.podName} to be ${goal.name}: ${kubeErrorMessage(err)}`, { cause: err });
  } finally {
    bound.done();
  }
}

/** One watch until the pod matches, the server ends the stream, or the watch fails. */
function watchOnce(
  t: PodWaitTarget,
  labelSelector: string,
  resourceVersion: string | undefined,
  goal: Goal,
  signal: AbortSignal,
  seen: (pod: V1Pod | null) => void,
): Promise<Outcome> {
  return new Promise<Outcome>((resolve, reject) => {
    let settled = false;
    let controller: AbortController | undefined;
    const finish = (settle: () => void) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      controller?.abort();
      settle();
    };
    const onAbort = () => finish(() => reject(signal.reason));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    const path = `/api/v1/namespaces/${encodeURIComponent(t.namespace)}/pods`;
    const query = { labelSelector, resourceVersion, allowWatchBookmarks: false };
    const onEvent = (phase: string, obj: V1Pod) => {
      if (settled) return;
      // ERROR carries a Status, typically 410 Gone for an expired resourceVersion: relist.
      if (phase === 'ERROR') return finish(() => resolve({ kind: 'ended' }));
      if (obj?.metadata?.name !== t.podName) return;
      const pod = phase === 'DELETED' ? null : obj;
      seen(pod);
      if (goal.done(pod)) return finish(() => resolve({ kind: 'matched', pod }));
      // A fatal state ends the watch; the relist that follows reports it.
      if (goal.fatal(pod)) return finish(() => resolve({ kind: 'ended' }));
    };
    const onDone = (err: unknown) => finish(() => resolve(err ? { kind: 'failed', err } : { kind: 'ended' }));
    new Watch(t.kubeConfig).watch(path, query, onEvent, onDone).then(
      (c) => {
        controller = c;
        if (settled) c.abort();
      },
      (err: unknown) => onDone(err ?? new Error('watch failed')),
    );
  });
}
