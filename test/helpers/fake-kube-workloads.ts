// What the StatefulSet controller and the kubelet would do, reduced to one pod
// per StatefulSet: replicas 1 makes pod `<name>-0` (Pending, then Running and
// Ready after a delay) and its PVCs from the volumeClaimTemplates; replicas 0
// marks the pod terminating and deletes it a little later. As in a real
// cluster, a new pod is created only once the old one is gone.
import type { KubeObject, KubeStore } from './fake-kube-store.js';

export interface WorkloadTiming {
  /** Pending → Running+Ready. */
  readyDelayMs: number;
  /** Terminating → deleted. */
  deleteDelayMs: number;
  podIp: string;
  /** A pod resize patched → applied by the kubelet. */
  resizeDelayMs?: number;
}

export class FakeStatefulSetController {
  /** StatefulSets (ns/name) whose pod runs but never passes its readiness probe. */
  private readonly neverReady = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly store: KubeStore,
    private readonly timing: WorkloadTiming,
  ) {}

  setNeverReady(ns: string, stsName: string, never: boolean): void {
    if (never) this.neverReady.add(`${ns}/${stsName}`);
    else this.neverReady.delete(`${ns}/${stsName}`);
  }

  /** Bring pod `<name>-0` in line with the StatefulSet's replicas (or its absence). */
  reconcile(ns: string, stsName: string): void {
    const sts = this.store.get('statefulsets', ns, stsName);
    const pod = this.store.get('pods', ns, `${stsName}-0`);
    const want = sts ? (sts.spec?.replicas ?? 1) : 0;
    if (want >= 1 && sts && !pod) this.createPod(ns, sts);
    if (want === 0 && pod && !pod.metadata.deletionTimestamp) this.terminate(ns, pod);
    if (sts) this.updateStatus(ns, sts);
  }

  /** The pod vanishes at once (node lost, evicted); the controller makes a new one. */
  killPod(ns: string, podName: string): void {
    const pod = this.store.remove('pods', ns, podName);
    if (pod) this.reconcile(ns, podName.replace(/-0$/, ''));
  }

  /** The container exits and the kubelet starts it again (crash, OOM kill): restartCount grows. */
  restartContainer(ns: string, podName: string, reason: string, exitCode: number): void {
    const pod = this.store.get('pods', ns, podName);
    if (!pod) return;
    for (const s of pod.status?.containerStatuses ?? []) {
      s.restartCount += 1;
      s.lastState = { terminated: { reason, exitCode, finishedAt: new Date().toISOString() } };
    }
    this.store.update('pods', ns, pod);
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private createPod(ns: string, sts: KubeObject): void {
    const name = sts.metadata.name;
    for (const tpl of sts.spec?.volumeClaimTemplates ?? []) {
      const claim = `${tpl.metadata.name}-${name}-0`;
      if (this.store.get('persistentvolumeclaims', ns, claim)) continue;
      this.store.create('persistentvolumeclaims', ns, {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: claim, labels: { ...tpl.metadata.labels, ...sts.spec?.selector?.matchLabels } },
        spec: structuredClone(tpl.spec),
        status: { phase: 'Bound' },
      });
    }
    const template = sts.spec?.template ?? {};
    const pod = this.store.create('pods', ns, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${name}-0`,
        labels: {
          ...template.metadata?.labels,
          'statefulset.kubernetes.io/pod-name': `${name}-0`,
          'apps.kubernetes.io/pod-index': '0',
        },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name, uid: sts.metadata.uid, controller: true }],
      },
      spec: structuredClone(template.spec ?? {}),
      status: {
        phase: 'Pending',
        conditions: [
          { type: 'PodScheduled', status: 'True' },
          { type: 'Ready', status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status' },
        ],
      },
    });
    const uid = pod.metadata.uid;
    this.later(this.timing.readyDelayMs, () => {
      const current = this.store.get('pods', ns, `${name}-0`);
      if (!current || current.metadata.uid !== uid || current.metadata.deletionTimestamp) return;
      const ready = !this.neverReady.has(`${ns}/${name}`);
      const containers = (current.spec?.containers ?? [{ name: 'main' }]) as Array<{ name: string; resources?: unknown }>;
      current.status = {
        phase: 'Running',
        podIP: this.timing.podIp,
        conditions: [
          { type: 'PodScheduled', status: 'True' },
          { type: 'Initialized', status: 'True' },
          ready
            ? { type: 'Ready', status: 'True' }
            : { type: 'Ready', status: 'False', reason: 'ContainersNotReady', message: 'readiness probe failed' },
        ],
        containerStatuses: containers.map((c: any) => ({
          name: c.name,
          ready,
          restartCount: 0,
          // What the kubelet gave it (a resize changes these once applied).
          ...(c.resources ? { resources: structuredClone(c.resources) } : {}),
          image: 'fake',
          imageID: 'fake',
          state: { running: { startedAt: new Date().toISOString() } },
        })),
      };
      this.store.update('pods', ns, current);
      const sts = this.store.get('statefulsets', ns, name);
      if (sts) this.updateStatus(ns, sts);
    });
  }

  private terminate(ns: string, pod: KubeObject): void {
    pod.metadata.deletionTimestamp = new Date().toISOString();
    pod.status = {
      ...pod.status,
      conditions: [{ type: 'Ready', status: 'False', reason: 'PodTerminating' }],
    };
    this.store.update('pods', ns, pod);
    const uid = pod.metadata.uid;
    this.later(this.timing.deleteDelayMs, () => {
      const current = this.store.get('pods', ns, pod.metadata.name);
      if (!current || current.metadata.uid !== uid) return;
      this.killPod(ns, pod.metadata.name);
    });
  }

  private updateStatus(ns: string, sts: KubeObject): void {
    const pod = this.store.get('pods', ns, `${sts.metadata.name}-0`);
    const ready = pod?.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') ? 1 : 0;
    const replicas = pod ? 1 : 0;
    const same = sts.status?.replicas === replicas && sts.status?.readyReplicas === ready;
    if (same) return;
    sts.status = { replicas, readyReplicas: ready, availableReplicas: ready, currentReplicas: replicas };
    this.store.update('statefulsets', ns, sts);
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }
}
