// Resizing a compute's pod in place, and reading what it uses.
//
// The pod's `resize` subresource (Kubernetes 1.33 and later: in-place pod
// resize), never the StatefulSet's template: a template change rolls the pod,
// which is a restart. The container declares `resizePolicy: NotRequired` for
// CPU and memory, and requests equal limits (Guaranteed QoS, which a resize
// must keep). The kubelet applies a resize asynchronously: the answer comes
// once the container's status shows the new limits, or fails when the
// kubelet says the node cannot fit it (PodResizePending, Infeasible); then,
// and when the kubelet does not apply it in time, the pod's wish is set back
// to what it runs with, so that nothing applies it later behind the control
// plane's back. A cluster without the subresource cannot resize: the size
// stays.
//
// Usage comes from the metrics API (metrics-server), where installed.
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { abortable, kubeStatusCode } from '../../kube/kube-api.js';
import type { KubeClients } from '../../kube/scale.js';
import type { SizeResources } from '../compute-size.js';
import type { ComputeUsage } from './driver.js';

export const MAIN_CONTAINER = 'mariadb';
const POLL_MS = 200;

/** A container's resources for a size: requests equal limits. */
export function containerResources(size: SizeResources): { requests: Record<string, string>; limits: Record<string, string> } {
  const r = { cpu: `${size.cpuMillicores}m`, memory: `${Math.round(size.memoryBytes / 1024 ** 2)}Mi` };
  return { requests: { ...r }, limits: { ...r } };
}

export class ResizeUnsupportedError extends Error {
  override readonly name = 'ResizeUnsupportedError';
}

/** Patches the pod's resize subresource and waits until the kubelet has applied it. */
export async function resizePod(k: KubeClients, pod: string, size: SizeResources, timeoutMs: number, signal: AbortSignal): Promise<void> {
  try {
    await patchResize(k, pod, containerResources(size), signal);
  } catch (err) {
    const code = kubeStatusCode(err);
    if (code === 404 && (await podExists(k, pod, signal))) {
      throw new ResizeUnsupportedError(`pod ${pod}: this cluster has no in-place pod resize (Kubernetes 1.33 or later); the compute keeps its size until its next start`);
    }
    throw err;
  }
  const want = containerResources(size).limits;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = await k.core.readNamespacedPod({ name: pod, namespace: k.namespace }, abortable(signal));
    const pending = p.status?.conditions?.find((c) => c.type === 'PodResizePending');
    const failure =
      pending?.reason === 'Infeasible'
        ? `the node cannot fit ${want.cpu} CPU and ${want.memory}: ${pending.message ?? 'infeasible'}`
        : Date.now() > deadline
          ? `resize to ${want.cpu} CPU, ${want.memory} not applied within ${timeoutMs} ms${pending ? ` (${pending.reason}: ${pending.message ?? ''})` : ''}`
          : undefined;
    if (failure) {
      await takeBack(k, p, signal);
      throw new Error(`pod ${pod}: ${failure}`);
    }
    if (applied(p, want)) return;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function patchResize(k: KubeClients, pod: string, resources: { requests: Record<string, string>; limits: Record<string, string> }, signal: AbortSignal) {
  const body = { spec: { containers: [{ name: MAIN_CONTAINER, resources }] } };
  return k.core.patchNamespacedPodResize({ name: pod, namespace: k.namespace, body }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch, abortable(signal)));
}

/** Sets the pod's wish back to what its container runs with (best effort). */
async function takeBack(k: KubeClients, p: V1Pod, signal: AbortSignal): Promise<void> {
  const running = p.status?.containerStatuses?.find((c) => c.name === MAIN_CONTAINER)?.resources;
  if (!running?.limits || !running.requests) return;
  await patchResize(k, p.metadata!.name!, { requests: running.requests, limits: running.limits }, signal).catch(() => undefined);
}

async function podExists(k: KubeClients, pod: string, signal: AbortSignal): Promise<boolean> {
  try {
    await k.core.readNamespacedPod({ name: pod, namespace: k.namespace }, abortable(signal));
    return true;
  } catch {
    return false;
  }
}

/** The container's status (what the kubelet applied) has the limits, and no resize is under way. */
function applied(p: V1Pod, want: Record<string, string>): boolean {
  if (p.status?.conditions?.some((c) => c.type === 'PodResizeInProgress' || c.type === 'PodResizePending')) return false;
  const status = p.status?.containerStatuses?.find((c) => c.name === MAIN_CONTAINER);
  const limits = status?.resources?.limits ?? {};
  return sameQuantity(limits.cpu, want.cpu!, cpuCores) && sameQuantity(limits.memory, want.memory!, bytes);
}

function sameQuantity(have: string | undefined, want: string, parse: (q: string) => number | undefined): boolean {
  if (have === undefined) return false;
  const a = parse(have);
  const b = parse(want);
  return a !== undefined && b !== undefined && Math.abs(a - b) <= Math.abs(b) * 1e-6;
}

/** The size a pod runs at, from its main container's limits (CPU millicores and memory bytes). */
export function podLimits(p: V1Pod): { cpuMillicores: number; memoryBytes: number } | undefined {
  const spec = p.spec?.containers?.find((c) => c.name === MAIN_CONTAINER)?.resources?.limits;
  const cpu = spec?.cpu !== undefined ? cpuCores(spec.cpu) : undefined;
  const memory = spec?.memory !== undefined ? bytes(spec.memory) : undefined;
  return cpu !== undefined && memory !== undefined ? { cpuMillicores: Math.round(cpu * 1000), memoryBytes: memory } : undefined;
}

/** CPU and memory of the pod's main container from the metrics API; {} where there is none. */
export async function podUsage(k: KubeClients, pod: string, signal: AbortSignal): Promise<ComputeUsage> {
  const api = k.kubeConfig.makeApiClient(CustomObjectsApi);
  let m: { containers?: Array<{ name?: string; usage?: { cpu?: string; memory?: string } }> };
  try {
    m = await api.getNamespacedCustomObject({ group: 'metrics.k8s.io', version: 'v1beta1', namespace: k.namespace, plural: 'pods', name: pod }, abortable(signal));
  } catch (err) {
    const code = kubeStatusCode(err);
    if (code === 404 || code === 503) return {};
    throw err;
  }
  const usage = m.containers?.find((c) => c.name === MAIN_CONTAINER)?.usage;
  const out: ComputeUsage = {};
  const cpu = usage?.cpu !== undefined ? cpuCores(usage.cpu) : undefined;
  const memory = usage?.memory !== undefined ? bytes(usage.memory) : undefined;
  if (cpu !== undefined) out.cpuCores = cpu;
  if (memory !== undefined) out.memoryBytes = memory;
  return out;
}

/** A CPU quantity ('250m', '1', '1500000n') in cores. */
export function cpuCores(q: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(n|u|m)?$/.exec(q.trim());
  if (!m) return undefined;
  const scale = { n: 1e-9, u: 1e-6, m: 1e-3 }[m[2] as 'n' | 'u' | 'm'] ?? 1;
  return Number(m[1]) * scale;
}

/** A memory quantity ('1Gi', '512Mi', '1000k', '1e9', '1073741824') in bytes. */
export function bytes(q: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?(?:e\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q.trim());
  if (!m) return undefined;
  const scale: Record<string, number> = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Math.round(Number(m[1]) * (m[2] ? scale[m[2]]! : 1));
}
