// The proxy's direct Kubernetes mode against the fake API server: one scale
// per project however many clients wait, caching, invalidation, errors the
// proxy can map.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createKubernetesResolver } from '../../control-client/kubernetes-resolver.js';
import { ProjectNotFoundError, WakeError } from '../../control-client/errors.js';
import type { ComputeResolver } from '../../control-client/types.js';
import { computeStatefulSet } from '../../control-plane/drivers/kubernetes-manifests.js';
import { FakeKubeApi } from '../helpers/fake-kube-api.js';
import { testLogger } from '../helpers/logger.js';

const NS = 'apps';
const VERIFIER = '*' + '0123456789'.repeat(4);
const signal = () => new AbortController().signal;

/** A project's StatefulSet as the driver would create it, seeded asleep. */
function seedProject(api: FakeKubeApi, project: string): void {
  const sts = computeStatefulSet(
    { computeId: project, projectId: project, ownerUser: 'owner', ownerVerifier: VERIFIER },
    { namespace: NS, image: 'mariadb:10.11', port: 3306, storageSize: '1Gi' },
  );
  api.seed('statefulsets', NS, sts as any);
}

describe('kubernetes resolver', () => {
  let api: FakeKubeApi;
  let resolver: ComputeResolver;

  before(async () => {
    api = await FakeKubeApi.start({ readyDelayMs: 80, podIp: '10.1.2.3' });
    for (const p of ['shop', 'blog', 'stuck', 'named']) seedProject(api, p);
    api.setNeverReady(NS, 'compute-stuck');
    resolver = createKubernetesResolver({
      kubeConfig: api.kubeConfig(),
      namespace: NS,
      port: 3307,
      readyTimeoutMs: 500,
      cacheTtlMs: 60_000,
      logger: testLogger(),
    });
  });

  beforeEach(() => {
    api.requests.length = 0;
  });

  after(async () => {
    await resolver.close();
    await api.close();
  });

  it('wakes a sleeping project once for 20 concurrent resolves and gives all the same address', async () => {
    const addrs = await Promise.all(Array.from({ length: 20 }, () => resolver.resolve('shop', signal())));
    for (const a of addrs) assert.deepEqual(a, { host: '10.1.2.3', port: 3307, computeId: 'compute-shop' });
    const scales = api.calls('PUT', /\/statefulsets\/compute-shop\/scale$/);
    assert.equal(scales.length, 1);
    assert.equal(scales[0]!.body.spec.replicas, 1);
    assert.equal(api.calls('GET', /\/statefulsets\/compute-shop\/scale$/).length, 1);
  });

  it('answers from the cache without any API call', async () => {
    assert.equal((await resolver.resolve('shop', signal())).host, '10.1.2.3');
    assert.equal(api.requests.length, 0);
  });

  it('asks again after invalidate, without scaling a compute that already runs', async () => {
    resolver.invalidate('shop', { host: '10.1.2.3', port: 3307 });
    assert.equal((await resolver.resolve('shop', signal())).host, '10.1.2.3');
    assert.equal(api.calls('GET', /\/statefulsets\/compute-shop\/scale$/).length, 1);
    assert.equal(api.calls('PUT', /\/scale$/).length, 0);
  });

  it('ignores an invalidate for an address it no longer holds', async () => {
    resolver.invalidate('shop', { host: '10.9.9.9', port: 3307 });
    await resolver.resolve('shop', signal());
    assert.equal(api.requests.length, 0);
  });

  it('wakes again after the compute was put to sleep and the address invalidated', async () => {
    api.store.get('statefulsets', NS, 'compute-shop')!.spec.replicas = 0;
    api.killPod(NS, 'compute-shop-0');
    resolver.invalidate('shop', { host: '10.1.2.3', port: 3307 });
    assert.equal((await resolver.resolve('shop', signal())).host, '10.1.2.3');
    assert.equal(api.calls('PUT', /\/statefulsets\/compute-shop\/scale$/).length, 1);
  });

  it('throws ProjectNotFoundError for a project without a StatefulSet', async () => {
    await assert.rejects(resolver.resolve('nope', signal()), (err: unknown) => {
      assert.ok(err instanceof ProjectNotFoundError);
      assert.equal(err.project, 'nope');
      return true;
    });
    assert.equal(api.calls('PUT', /\/scale$/).length, 0);
  });

  it('throws ProjectNotFoundError for a name Kubernetes could not hold, without asking it', async () => {
    await assert.rejects(resolver.resolve('Bad/../Name', signal()), ProjectNotFoundError);
    assert.equal(api.requests.length, 0);
  });

  it('a compute that never gets Ready is a timeout WakeError within the bound', async () => {
    const started = performance.now();
    await assert.rejects(resolver.resolve('stuck', signal()), (err: unknown) => {
      assert.ok(err instanceof WakeError);
      assert.equal(err.reason, 'timeout');
      assert.match(err.message, /project 'stuck' \(StatefulSet compute-stuck\) in namespace 'apps': pod compute-stuck-0 not Ready within 500 ms/);
      return true;
    });
    assert.ok(performance.now() - started < 1_500);
  });

  it('a caller that gives up is released at once; the wake goes on for the others', async () => {
    const ac = new AbortController();
    const first = resolver.resolve('blog', ac.signal);
    const second = resolver.resolve('blog', signal());
    ac.abort(new Error('client left'));
    await assert.rejects(first, /client left/);
    assert.equal((await second).host, '10.1.2.3');
    assert.equal(api.calls('PUT', /compute-blog\/scale$/).length, 1);
  });

  it('takes the StatefulSet name from a template', async () => {
    seedProject(api, 'x-named');
    const pinned = createKubernetesResolver({
      kubeConfig: api.kubeConfig(),
      namespace: NS,
      statefulSetName: 'compute-x-{project}',
      readyTimeoutMs: 1_000,
    });
    try {
      const addr = await pinned.resolve('named', signal());
      assert.deepEqual(addr, { host: '10.1.2.3', port: 3306, computeId: 'compute-x-named' });
    } finally {
      await pinned.close();
    }
  });

  it('close ends a wake in flight at once', async () => {
    const closing = createKubernetesResolver({ kubeConfig: api.kubeConfig(), namespace: NS, readyTimeoutMs: 10_000 });
    const pending = closing.resolve('stuck', signal());
    await new Promise((r) => setTimeout(r, 50));
    const started = performance.now();
    await closing.close();
    await assert.rejects(pending, (err: unknown) => err instanceof WakeError && err.reason === 'start_failed');
    assert.ok(performance.now() - started < 500);
  });
});
