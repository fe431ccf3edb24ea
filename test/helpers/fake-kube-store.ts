// The in-memory object store behind the fake Kubernetes API server: objects
// keyed by resource, namespace and name, one resourceVersion counter for all
// of them (as etcd has), and a log of pod events so a watch that starts from a
// list's resourceVersion sees exactly what happened after that list.

export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    resourceVersion?: string;
    uid?: string;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    [k: string]: unknown;
  };
  spec?: any;
  status?: any;
  [k: string]: unknown;
};

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface WatchEvent {
  type: WatchEventType;
  object: KubeObject;
}

export type Resource = 'statefulsets' | 'services' | 'secrets' | 'persistentvolumeclaims' | 'pods';

type Listener = (resource: Resource, event: WatchEvent) => void;

export class KubeStore {
  private readonly objects = new Map<string, KubeObject>();
  private readonly log: { rv: number; resource: Resource; event: WatchEvent }[] = [];
  private readonly listeners = new Set<Listener>();
  private rv = 1000;
  private uid = 0;

  get resourceVersion(): string {
    return String(this.rv);
  }

  get(resource: Resource, ns: string, name: string): KubeObject | undefined {
    return this.objects.get(key(resource, ns, name));
  }

  list(resource: Resource, ns: string, selector?: Record<string, string>): KubeObject[] {
    const prefix = `${resource}/${ns}/`;
    return [...this.objects.entries()]
      .filter(([k, o]) => k.startsWith(prefix) && matches(o, selector))
      .map(([, o]) => o);
  }

  /** Stores a new object; the caller has checked it does not exist. */
  create(resource: Resource, ns: string, obj: KubeObject): KubeObject {
    obj.metadata.namespace = ns;
    obj.metadata.uid = `uid-${++this.uid}`;
    obj.metadata.creationTimestamp = new Date().toISOString();
    return this.put(resource, ns, obj, 'ADDED');
  }

  update(resource: Resource, ns: string, obj: KubeObject): KubeObject {
    return this.put(resource, ns, obj, 'MODIFIED');
  }

  remove(resource: Resource, ns: string, name: string): KubeObject | undefined {
    const obj = this.objects.get(key(resource, ns, name));
    if (!obj) return undefined;
    this.objects.delete(key(resource, ns, name));
    obj.metadata.resourceVersion = String(++this.rv);
    this.emit(resource, { type: 'DELETED', object: structuredClone(obj) });
    return obj;
  }

  /** Events after `sinceRv` for the given resource and namespace, oldest first. */
  eventsSince(resource: Resource, ns: string, sinceRv: number): WatchEvent[] {
    return this.log
      .filter((e) => e.rv > sinceRv && e.resource === resource && e.event.object.metadata.namespace === ns)
      .map((e) => e.event);
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private put(resource: Resource, ns: string, obj: KubeObject, type: WatchEventType): KubeObject {
    obj.metadata.resourceVersion = String(++this.rv);
    this.objects.set(key(resource, ns, obj.metadata.name), obj);
    this.emit(resource, { type, object: structuredClone(obj) });
    return obj;
  }

  private emit(resource: Resource, event: WatchEvent): void {
    this.log.push({ rv: this.rv, resource, event });
    for (const l of this.listeners) l(resource, event);
  }
}

function key(resource: Resource, ns: string, name: string): string {
  return `${resource}/${ns}/${name}`;
}

/** Equality-based selectors only (`a=b,c==d`): all the code under test uses. */
export function parseSelector(text: string | null): Record<string, string> | undefined {
  if (!text) return undefined;
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    const m = /^([^=!]+)==?(.*)$/.exec(part.trim());
    if (!m) throw new Error(`unsupported label selector '${part}'`);
    out[m[1]!] = m[2]!;
  }
  return out;
}

export function matches(obj: KubeObject, selector?: Record<string, string>): boolean {
  if (!selector) return true;
  const labels = obj.metadata.labels ?? {};
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}
