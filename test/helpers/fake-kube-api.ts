// A small Kubernetes API server for tests: the real paths and request and
// response shapes for StatefulSets (and their scale subresource), Services,
// Secrets, PVCs and pods (and their resize subresource, fake-kube-resize.ts),
// pod metrics, including pod watches streamed as newline-delimited events and
// Status objects for errors. `@kubernetes/client-node` talks to it
// exactly as it would to a cluster. It records every request so tests can
// count API calls.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeStore, parseSelector, matches, type KubeObject, type Resource, type WatchEvent } from './fake-kube-store.js';
import { FakeStatefulSetController, type WorkloadTiming } from './fake-kube-workloads.js';
import { FakePodResizer, ResizeError } from './fake-kube-resize.js';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body?: any;
}

interface Route {
  ns: string;
  resource: Resource;
  name?: string;
  scale: boolean;
  resize?: boolean;
}

const KINDS: Record<Resource, { kind: string; apiVersion: string; group: string }> = {
  statefulsets: { kind: 'StatefulSet', apiVersion: 'apps/v1', group: 'apps' },
  services: { kind: 'Service', apiVersion: 'v1', group: '' },
  secrets: { kind: 'Secret', apiVersion: 'v1', group: '' },
  persistentvolumeclaims: { kind: 'PersistentVolumeClaim', apiVersion: 'v1', group: '' },
  pods: { kind: 'Pod', apiVersion: 'v1', group: '' },
};

class HttpError extends Error {
  constructor(readonly code: number, readonly reason: string, message: string) {
    super(message);
  }
}

export class FakeKubeApi {
  readonly store = new KubeStore();
  readonly requests: RecordedRequest[] = [];
  /** False answers watches with 403, as RBAC without the `watch` verb would. */
  watchEnabled = true;
  /** In-place pod resize (supported, node capacity) and pod metrics. */
  readonly resizer: FakePodResizer;
  private readonly controller: FakeStatefulSetController;
  private readonly watches = new Set<ServerResponse>();
  private readonly server = createServer((req, res) => void this.handle(req, res));
  private baseUrl = '';

  constructor(timing: Partial<WorkloadTiming> = {}) {
    this.controller = new FakeStatefulSetController(this.store, {
      readyDelayMs: timing.readyDelayMs ?? 50,
      deleteDelayMs: timing.deleteDelayMs ?? 20,
      podIp: timing.podIp ?? '127.0.0.1',
    });
    this.resizer = new FakePodResizer(this.store, timing.resizeDelayMs ?? 30);
  }

  static async start(timing: Partial<WorkloadTiming> = {}): Promise<FakeKubeApi> {
    const api = new FakeKubeApi(timing);
    await new Promise<void>((resolve) => api.server.listen(0, '127.0.0.1', resolve));
    api.baseUrl = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
    return api;
  }

  get url(): string {
    return this.baseUrl;
  }

  /** A KubeConfig pointing at this server, as a kubeconfig file with a token would. */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: this.baseUrl, skipTLSVerify: true }],
      users: [{ name: 'tester', token: 'test-token' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'tester' }],
      currentContext: 'fake',
    });
    return kc;
  }

  setNeverReady(ns: string, stsName: string, never = true): void {
    this.controller.setNeverReady(ns, stsName, never);
  }

  killPod(ns: string, podName: string): void {
    this.controller.killPod(ns, podName);
  }

  restartContainer(ns: string, podName: string, reason = 'OOMKilled', exitCode = 137): void {
    this.controller.restartContainer(ns, podName, reason, exitCode);
  }

  /** Seeds an object as if someone had applied it (no request recorded). */
  seed(resource: Resource, ns: string, obj: { metadata: KubeObject['metadata']; spec?: any; [k: string]: unknown }): void {
    this.store.create(resource, ns, normalise(resource, { ...structuredClone(obj), ...typeMeta(resource) }));
    if (resource === 'statefulsets') this.controller.reconcile(ns, obj.metadata.name);
  }

  /** Requests matching a method and a path pattern. */
  calls(method: string, path: RegExp): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && path.test(r.path));
  }

  async close(): Promise<void> {
    this.controller.close();
    this.resizer.close();
    for (const res of this.watches) res.end();
    this.watches.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    let body: any;
    try {
      const text = await readBody(req);
      body = text ? JSON.parse(text) : undefined;
      this.requests.push({ method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), body });
      if (req.headers.authorization !== 'Bearer test-token') throw new HttpError(401, 'Unauthorized', 'Unauthorized');
      const metrics = /^\/apis\/metrics\.k8s\.io\/v1beta1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(url.pathname);
      if (metrics) {
        const usage = this.resizer.metrics.get(`${metrics[1]}/${metrics[2]}`);
        if (!usage) throw new HttpError(404, 'NotFound', `podmetrics.metrics.k8s.io "${metrics[2]}" not found`);
        send(res, 200, { kind: 'PodMetrics', apiVersion: 'metrics.k8s.io/v1beta1', metadata: { name: metrics[2], namespace: metrics[1] }, containers: [{ name: 'mariadb', usage }] });
        return;
      }
      const route = parseRoute(url.pathname);
      if (!route) throw new HttpError(404, 'NotFound', `the server could not find the requested resource (${url.pathname})`);
      if (route.resource === 'pods' && !route.name && url.searchParams.get('watch') === 'true') {
        this.watch(route.ns, url.searchParams, res);
        return;
      }
      const [code, answer] = this.dispatch(req.method ?? 'GET', route, url.searchParams, body, req.headers['content-type']);
      send(res, code, answer);
    } catch (err) {
      const e = err instanceof HttpError || err instanceof ResizeError ? err : new HttpError(500, 'InternalError', (err as Error).message);
      send(res, e.code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: e.message, reason: e.reason, code: e.code });
    }
  }

  private dispatch(method: string, r: Route, q: URLSearchParams, body: any, contentType?: string): [number, unknown] {
    const meta = KINDS[r.resource];
    const existing = r.name ? this.store.get(r.resource, r.ns, r.name) : undefined;
    const notFound = () =>
      new HttpError(404, 'NotFound', `${r.resource}${meta.group ? '.' + meta.group : ''} "${r.name}" not found`);
    if (!r.name) {
      if (method === 'GET') {
        const items = this.store.list(r.resource, r.ns, parseSelector(q.get('labelSelector')));
        return [200, { kind: `${meta.kind}List`, apiVersion: meta.apiVersion, metadata: { resourceVersion: this.store.resourceVersion }, items }];
      }
      if (method !== 'POST') throw new HttpError(405, 'MethodNotAllowed', `${method} not allowed on a collection`);
      const name = body?.metadata?.name;
      if (!name) throw new HttpError(422, 'Invalid', `${meta.kind}: metadata.name: Required value`);
      if (this.store.get(r.resource, r.ns, name)) throw new HttpError(409, 'AlreadyExists', `${r.resource} "${name}" already exists`);
      const obj = normalise(r.resource, { ...body, ...typeMeta(r.resource) });
      this.store.create(r.resource, r.ns, obj);
      this.afterChange(r.resource, r.ns, name);
      return [201, obj];
    }
    if (!existing) throw notFound();
    if (r.scale) return this.scale(method, r, existing, body, contentType);
    if (r.resize) {
      if (!this.resizer.supported) throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
      if (method === 'GET') return [200, existing];
      if (method !== 'PATCH' || !contentType?.startsWith('application/strategic-merge-patch+json')) {
        throw new HttpError(415, 'UnsupportedMediaType', `the fake resize takes strategic merge patches, got ${method} ${contentType}`);
      }
      return [200, this.resizer.patch(r.ns, existing, body)];
    }
    if (method === 'GET') return [200, existing];
    if (method === 'DELETE') {
      if (r.resource === 'pods') this.controller.killPod(r.ns, r.name);
      else this.store.remove(r.resource, r.ns, r.name);
      this.afterChange(r.resource, r.ns, r.name);
      return [200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name: r.name, kind: r.resource } }];
    }
    const next = method === 'PUT' ? body : method === 'PATCH' ? mergePatch(existing, body, contentType) : undefined;
    if (!next) throw new HttpError(405, 'MethodNotAllowed', `${method} not allowed`);
    checkVersion(existing, next);
    const obj = normalise(r.resource, { ...next, ...typeMeta(r.resource), metadata: { ...next.metadata, uid: existing.metadata.uid, creationTimestamp: existing.metadata.creationTimestamp } });
    this.store.update(r.resource, r.ns, obj);
    this.afterChange(r.resource, r.ns, r.name);
    return [200, obj];
  }

  /** The scale subresource: an autoscaling/v1 Scale view of spec.replicas. */
  private scale(method: string, r: Route, sts: KubeObject, body: any, contentType?: string): [number, unknown] {
    const view = (): KubeObject => ({
      apiVersion: 'autoscaling/v1',
      kind: 'Scale',
      metadata: { name: sts.metadata.name, namespace: r.ns, uid: sts.metadata.uid, resourceVersion: sts.metadata.resourceVersion },
      spec: { replicas: sts.spec.replicas },
      status: {
        replicas: sts.status?.replicas ?? 0,
        selector: Object.entries(sts.spec.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(','),
      },
    });
    if (method === 'GET') return [200, view()];
    const next = method === 'PUT' ? body : method === 'PATCH' ? mergePatch(view(), body, contentType) : undefined;
    const replicas = next?.spec?.replicas;
    if (typeof replicas !== 'number' || replicas < 0) throw new HttpError(422, 'Invalid', 'Scale.spec.replicas: must be a non-negative integer');
    checkVersion(sts, next);
    sts.spec.replicas = replicas;
    this.store.update('statefulsets', r.ns, sts);
    this.controller.reconcile(r.ns, sts.metadata.name);
    return [200, view()];
  }

  private afterChange(resource: Resource, ns: string, name: string): void {
    if (resource === 'statefulsets') this.controller.reconcile(ns, name);
  }

  /** A pod watch: current objects as ADDED (or the log since resourceVersion), then live events. */
  private watch(ns: string, q: URLSearchParams, res: ServerResponse): void {
    if (!this.watchEnabled) throw new HttpError(403, 'Forbidden', 'pods is forbidden: cannot watch resource "pods"');
    const selector = parseSelector(q.get('labelSelector'));
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const write = (e: WatchEvent) => {
      if (e.object.metadata.namespace === ns && matches(e.object, selector)) res.write(JSON.stringify(e) + '\n');
    };
    const since = q.get('resourceVersion');
    if (since) this.store.eventsSince('pods', ns, Number(since)).forEach(write);
    else this.store.list('pods', ns, selector).forEach((o) => write({ type: 'ADDED', object: o }));
    const unsubscribe = this.store.subscribe((resource, e) => resource === 'pods' && write(e));
    this.watches.add(res);
    res.on('close', () => {
      unsubscribe();
      this.watches.delete(res);
    });
  }
}

function typeMeta(resource: Resource): { apiVersion: string; kind: string } {
  return { apiVersion: KINDS[resource].apiVersion, kind: KINDS[resource].kind };
}

function parseRoute(path: string): Route | undefined {
  let m = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/statefulsets(?:\/([^/]+)(\/scale)?)?$/.exec(path);
  if (m) return { ns: m[1]!, resource: 'statefulsets', ...(m[2] ? { name: m[2] } : {}), scale: !!m[3] };
  m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/resize$/.exec(path);
  if (m) return { ns: m[1]!, resource: 'pods', name: m[2]!, scale: false, resize: true };
  m = /^\/api\/v1\/namespaces\/([^/]+)\/(services|secrets|persistentvolumeclaims|pods)(?:\/([^/]+))?$/.exec(path);
  if (m) return { ns: m[1]!, resource: m[2] as Resource, ...(m[3] ? { name: m[3] } : {}), scale: false };
  return undefined;
}

/** What the API server fills in: defaults and stringData folded into data. */
function normalise(resource: Resource, obj: KubeObject): KubeObject {
  if (resource === 'statefulsets') obj.spec = { replicas: 1, ...obj.spec };
  if (resource === 'secrets' && obj.stringData) {
    const data = { ...(obj.data as Record<string, string>) };
    for (const [k, v] of Object.entries(obj.stringData as Record<string, string>)) data[k] = Buffer.from(v).toString('base64');
    obj.data = data;
    delete obj.stringData;
  }
  return obj;
}

function checkVersion(current: KubeObject, next: any): void {
  const want = next?.metadata?.resourceVersion;
  if (want && want !== current.metadata.resourceVersion) {
    throw new HttpError(409, 'Conflict', `Operation cannot be fulfilled on ${current.metadata.name}: the object has been modified`);
  }
}

function mergePatch(target: any, patch: any, contentType?: string): any {
  if (!contentType?.startsWith('application/merge-patch+json') && !contentType?.startsWith('application/strategic-merge-patch+json')) {
    throw new HttpError(415, 'UnsupportedMediaType', `the fake API only accepts merge patches, got ${contentType}`);
  }
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: any = { ...(target && typeof target === 'object' ? target : {}) };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v, contentType);
  }
  return out;
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
