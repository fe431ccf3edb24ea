// The kubernetes driver's sizes against the fake API server: a pod starts with
// its template's size (requests equal limits, resizable without a restart),
// is resized through the pod's resize subresource and answered only once the
// kubelet applied it, never through the StatefulSet's template; a node that
// cannot fit it and a cluster without in-place resize are errors that leave
// the size alone; usage comes from the metrics API where there is one.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createKubernetesDriver } from '../../control-plane/drivers/kubernetes-driver.js';
import type { ComputeDriver } from '../../control-plane/drivers/driver.js';
import { resourcesOf } from '../../control-plane/compute-size.js';
import { FakeKubeApi } from '../helpers/fake-kube-api.js';
import { testLogger } from '../helpers/logger.js';

const NS = 'computes';
const VERIFIER = '*' + 'A1B2C3D4E5'.repeat(4);
const never = () => new AbortController().signal;

describe('kubernetes driver: sizes', () => {
  let api: FakeKubeApi;
  let driver: ComputeDriver;
  const pod = () => api.store.get('pods', NS, 'compute-r1-0')!;
  const mariadb = (p: any) => p.spec.containers.find((c: any) => c.name === 'mariadb');

  before(async () => {
    api = await FakeKubeApi.start({ readyDelayMs: 20, deleteDelayMs: 10, resizeDelayMs: 60 });
    driver = createKubernetesDriver({ kubeConfig: api.kubeConfig(), namespace: NS, readyTimeoutMs: 3_000, stopTimeoutMs: 3_000, resizeTimeoutMs: 1_000, logger: testLogger() });
    await driver.provision({ computeId: 'r1', projectId: 'shop', ownerUser: 'owner', ownerVerifier: VERIFIER, size: resourcesOf(500) });
  });

  after(async () => {
    await driver.close();
    await api.close();
  });

  it('a pod starts at its template size: Guaranteed, resizable in place, the pool and connections of that size', async () => {
    const template = api.store.get('statefulsets', NS, 'compute-r1')!.spec.template.spec.containers[0];
    assert.deepEqual(template.resources, { requests: { cpu: '500m', memory: '2048Mi' }, limits: { cpu: '500m', memory: '2048Mi' } });
    assert.deepEqual(template.resizePolicy, [
      { resourceName: 'cpu', restartPolicy: 'NotRequired' },
      { resourceName: 'memory', restartPolicy: 'NotRequired' },
    ]);
    assert.ok(template.args.includes(`--innodb-buffer-pool-size=${1024 ** 3}`) && template.args.includes('--max-connections=1500'));
    // Asked to start at 0.25 CU, it says it runs at its template's 0.5.
    assert.deepEqual(await driver.resume('r1', never(), resourcesOf(250)), { host: '127.0.0.1', port: 3306, sizeMilli: 500 });
    assert.deepEqual((await driver.resume('r1', never(), resourcesOf(500))).sizeMilli, undefined);
  });

  it('a resize patches the pod resize subresource and answers once the kubelet applied it; the template stays', async () => {
    const uid = pod().metadata.uid;
    const writesBefore = api.requests.filter((r) => r.method !== 'GET' && /statefulsets/.test(r.path)).length;
    const began = Date.now();
    assert.deepEqual(await driver.applyLimits('r1', resourcesOf(1500), never()), { enforced: true, how: 'pod resize' });
    assert.ok(Date.now() - began >= 50, 'it waited for the kubelet');
    const patches = api.calls('PATCH', /\/pods\/compute-r1-0\/resize$/);
    assert.equal(patches.length, 1);
    assert.deepEqual(patches[0]!.body, {
      spec: { containers: [{ name: 'mariadb', resources: { requests: { cpu: '1500m', memory: '6144Mi' }, limits: { cpu: '1500m', memory: '6144Mi' } } }] },
    });
    assert.equal(pod().metadata.uid, uid, 'the same pod: no restart');
    assert.deepEqual(pod().status.containerStatuses[0].resources.limits, { cpu: '1500m', memory: '6144Mi' });
    assert.equal(pod().status.conditions.some((c: any) => c.type.startsWith('PodResize')), false);
    assert.equal(api.requests.filter((r) => r.method !== 'GET' && /statefulsets/.test(r.path)).length, writesBefore, 'no write to the StatefulSet');
    assert.deepEqual(api.store.get('statefulsets', NS, 'compute-r1')!.spec.template.spec.containers[0].resources.limits, { cpu: '500m', memory: '2048Mi' });

    await driver.applyLimits('r1', resourcesOf(250), never());
    assert.deepEqual(mariadb(pod()).resources.limits, { cpu: '250m', memory: '1024Mi' });
  });

  it('a resize the node cannot fit fails at once and leaves the running size', async () => {
    api.resizer.capacity = { cpuMillicores: 2_000, memoryBytes: 8 * 1024 ** 3 };
    try {
      await assert.rejects(driver.applyLimits('r1', resourcesOf(4000), never()), /compute 'r1'.*resize pod compute-r1-0: pod compute-r1-0: the node cannot fit 4000m CPU and 16384Mi/);
      assert.deepEqual(pod().status.containerStatuses[0].resources.limits, { cpu: '250m', memory: '1024Mi' }, 'the kubelet kept the old size');
      assert.deepEqual(mariadb(pod()).resources.limits, { cpu: '250m', memory: '1024Mi' }, 'and the wish was taken back');
    } finally {
      api.resizer.capacity = { cpuMillicores: 16_000, memoryBytes: 64 * 1024 ** 3 };
    }
  });

  it('a cluster without in-place resize says so, and nothing changes', async () => {
    api.resizer.supported = false;
    try {
      await assert.rejects(driver.applyLimits('r1', resourcesOf(500), never()), /no in-place pod resize \(Kubernetes 1\.33 or later\)/);
      assert.deepEqual(mariadb(pod()).resources.limits, { cpu: '250m', memory: '1024Mi' });
    } finally {
      api.resizer.supported = true;
    }
  });

  it('usage comes from the metrics API, and is empty without one', async () => {
    assert.deepEqual(await driver.usage('r1', never()), {});
    api.resizer.metrics.set(`${NS}/compute-r1-0`, { cpu: '12500000n', memory: '300Mi' });
    assert.deepEqual(await driver.usage('r1', never()), { cpuCores: 0.0125, memoryBytes: 300 * 1024 ** 2 });
  });
});
