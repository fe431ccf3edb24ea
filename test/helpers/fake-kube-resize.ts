// In-place pod resize as Kubernetes 1.33+ does it, for the fake API server:
// PATCH .../pods/{name}/resize (a strategic merge patch; containers merge by
// name) changes only CPU and memory requests and limits, must keep the pod's
// QoS class, and is applied by the "kubelet" a little later: meanwhile the pod
// carries a PodResizeInProgress condition, after it the container's status
// shows the new resources. A resize the node cannot fit stays
// PodResizePending (Infeasible) and is never applied. Clusters before 1.33
// have no such subresource (404). Also the metrics API's pod usage.
import type { KubeObject, KubeStore } from './fake-kube-store.js';

export interface NodeCapacity {
  cpuMillicores: number;
  memoryBytes: number;
}

export class ResizeError extends Error {
  constructor(readonly code: number, readonly reason: string, message: string) {
    super(message);
  }
}

type Resources = { requests?: Record<string, string>; limits?: Record<string, string> };

export class FakePodResizer {
  /** False: the cluster is older than 1.33 (the subresource answers 404). */
  supported = true;
  /** What the node can give a pod. */
  capacity: NodeCapacity = { cpuMillicores: 16_000, memoryBytes: 64 * 1024 ** 3 };
  /** Usage the metrics API reports per pod (ns/name); absent: no metrics for it. */
  readonly metrics = new Map<string, { cpu: string; memory: string }>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly store: KubeStore,
    private readonly applyDelayMs: number,
  ) {}

  /** The PATCH: validates, records the wish in the spec, and applies it after a delay. */
  patch(ns: string, pod: KubeObject, body: any): KubeObject {
    if (!this.supported) throw new ResizeError(404, 'NotFound', 'the server could not find the requested resource');
    const wanted: Array<{ name: string; resources: Resources }> = body?.spec?.containers ?? [];
    const next = structuredClone(pod);
    for (const w of wanted) {
      const c = next.spec?.containers?.find((x: any) => x.name === w.name);
      if (!c) throw new ResizeError(422, 'Invalid', `spec.containers: container '${w.name}' not found`);
      const merged: Resources = { requests: { ...c.resources?.requests, ...w.resources?.requests }, limits: { ...c.resources?.limits, ...w.resources?.limits } };
      for (const part of [merged.requests, merged.limits]) {
        for (const key of Object.keys(part ?? {})) {
          if (key !== 'cpu' && key !== 'memory') throw new ResizeError(422, 'Invalid', `only cpu and memory may be resized, not ${key}`);
        }
      }
      if (guaranteed(c.resources) !== guaranteed(merged)) throw new ResizeError(422, 'Invalid', 'Pod QOS Class may not change as a result of resizing');
      c.resources = merged;
    }
    const fits = (next.spec?.containers ?? []).every(
      (c: any) => cpu(c.resources?.requests?.cpu) <= this.capacity.cpuMillicores && bytes(c.resources?.requests?.memory) <= this.capacity.memoryBytes,
    );
    next.status = {
      ...next.status,
      conditions: [
        ...(next.status?.conditions ?? []).filter((c: any) => !c.type.startsWith('PodResize')),
        fits
          ? { type: 'PodResizeInProgress', status: 'True' }
          : { type: 'PodResizePending', status: 'True', reason: 'Infeasible', message: 'Node didn\'t have enough capacity' },
      ],
    };
    const stored = this.store.update('pods', ns, next);
    if (fits) this.later(() => this.actuate(ns, pod.metadata.name, pod.metadata.uid!));
    return stored;
  }

  /** What a kubelet reports for a container that runs: the resources it has. */
  static running(container: any): Resources {
    return structuredClone(container.resources ?? {});
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private actuate(ns: string, name: string, uid: string): void {
    const pod = this.store.get('pods', ns, name);
    if (!pod || pod.metadata.uid !== uid) return;
    for (const s of pod.status?.containerStatuses ?? []) {
      const spec = pod.spec?.containers?.find((c: any) => c.name === s.name);
      s.resources = FakePodResizer.running(spec);
    }
    pod.status.conditions = (pod.status.conditions ?? []).filter((c: any) => !c.type.startsWith('PodResize'));
    this.store.update('pods', ns, pod);
  }

  private later(fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, this.applyDelayMs);
    this.timers.add(t);
  }
}

function guaranteed(r: Resources | undefined): boolean {
  return !!r?.limits?.cpu && !!r.limits.memory && r.requests?.cpu === r.limits.cpu && r.requests?.memory === r.limits.memory;
}

function cpu(q: string | undefined): number {
  if (!q) return 0;
  return q.endsWith('m') ? Number(q.slice(0, -1)) : Number(q) * 1000;
}

function bytes(q: string | undefined): number {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(q ?? '0');
  return m ? Number(m[1]) * ({ Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 }[m[2] as 'Ki'] ?? 1) : 0;
}
