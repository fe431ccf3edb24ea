// The kubernetes compute driver against the fake API server: the objects it
// creates, scaling through the scale subresource, bounded waits, exits.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createKubernetesDriver } from '../../control-plane/drivers/kubernetes-driver.js';
import type { ComputeDriver, ProvisionRequest } from '../../control-plane/drivers/driver.js';
import { FakeKubeApi } from '../helpers/fake-kube-api.js';
import { testLogger } from '../helpers/logger.js';

const NS = 'computes';
const VERIFIER = '*' + 'A1B2C3D4E5'.repeat(4);

function request(computeId: string): ProvisionRequest {
  return { computeId, projectId: `proj-${computeId}`, ownerUser: 'owner', ownerVerifier: VERIFIER };
}

const never = () => new AbortController().signal;

describe('kubernetes driver', () => {
  let api: FakeKubeApi;
  let driver: ComputeDriver;

  before(async () => {
    api = await FakeKubeApi.start({ readyDelayMs: 40, deleteDelayMs: 20 });
    driver = createKubernetesDriver({
      kubeConfig: api.kubeConfig(),
      namespace: NS,
      storageSize: '2Gi',
      storageClassName: 'fast',
      readyTimeoutMs: 3_000,
      stopTimeoutMs: 3_000,
      logger: testLogger(),
    });
  });

  after(async () => {
    await driver.close();
    await api.close();
  });

  it('provisions a Secret, a headless Service and a StatefulSet asleep, with labels and a volume claim', async () => {
    await driver.provision(request('c1'));
    const sts = api.store.get('statefulsets', NS, 'compute-c1')!;
    assert.ok(sts, 'StatefulSet compute-c1 exists');
    const labels = {
      'app.kubernetes.io/name': 'wake-proxy-compute',
      'wake-proxy/compute': 'c1',
      'wake-proxy/project': 'proj-c1',
    };
    for (const [k, v] of Object.entries(labels)) {
      assert.equal(sts.metadata.labels?.[k], v, `StatefulSet label ${k}`);
      assert.equal(sts.spec.template.metadata.labels[k], v, `pod label ${k}`);
    }
    assert.equal(sts.spec.replicas, 0);
    assert.equal(sts.spec.serviceName, 'compute-c1');
    const claim = sts.spec.volumeClaimTemplates[0];
    assert.equal(claim.metadata.name, 'data');
    assert.equal(claim.spec.resources.requests.storage, '2Gi');
    assert.equal(claim.spec.storageClassName, 'fast');
    const container = sts.spec.template.spec.containers[0];
    assert.equal(container.image, 'mariadb:10.11');
    assert.deepEqual(container.readinessProbe.tcpSocket, { port: 3306 });
    assert.ok(container.volumeMounts.some((m: any) => m.mountPath === '/var/lib/mysql' && m.name === 'data'));
    assert.ok(container.volumeMounts.some((m: any) => m.mountPath === '/docker-entrypoint-initdb.d'));
    assert.ok(container.env.some((e: any) => e.name === 'MARIADB_RANDOM_ROOT_PASSWORD'));

    const svc = api.store.get('services', NS, 'compute-c1')!;
    assert.equal(svc.spec.clusterIP, 'None');
    assert.deepEqual(svc.spec.selector, { 'app.kubernetes.io/name': 'wake-proxy-compute', 'wake-proxy/compute': 'c1' });

    const secret = api.store.get('secrets', NS, 'compute-c1-init')!;
    const sql = Buffer.from(secret['data'] && (secret['data'] as any)['owner.sql'], 'base64').toString();
    assert.match(sql, new RegExp(`CREATE USER IF NOT EXISTS 'owner'@'%' IDENTIFIED BY PASSWORD '\\${VERIFIER}'`));
  });

  it('provision is idempotent', async () => {
    await driver.provision(request('c1'));
    assert.equal(api.calls('POST', /statefulsets$/).length, 2, 'second create answered 409 and was accepted');
  });

  it('resume scales to 1 through the scale subresource and answers the Ready pod address', async () => {
    const before = api.requests.length;
    const endpoint = await driver.resume('c1', never());
    assert.deepEqual(endpoint, { host: '127.0.0.1', port: 3306 });
    const scales = api.requests.slice(before).filter((r) => r.method === 'PUT' && r.path.endsWith('/statefulsets/compute-c1/scale'));
    assert.equal(scales.length, 1);
    assert.equal(scales[0]!.body.spec.replicas, 1);
    assert.equal(scales[0]!.body.kind, 'Scale');
    assert.ok(api.store.get('persistentvolumeclaims', NS, 'data-compute-c1-0'), 'PVC made from the claim template');
    assert.deepEqual(await driver.observe('c1'), { state: 'running', endpoint: { host: '127.0.0.1', port: 3306 } });
  });

  it('resume of a running compute does not scale again', async () => {
    const before = api.calls('PUT', /\/scale$/).length;
    assert.equal((await driver.resume('c1', never())).host, '127.0.0.1');
    assert.equal(api.calls('PUT', /\/scale$/).length, before);
  });

  it('suspend scales to 0 and waits for the pod to be gone', async () => {
    await driver.suspend('c1', 'freeze');
    const last = api.calls('PUT', /compute-c1\/scale$/).at(-1)!;
    assert.equal(last.body.spec.replicas, 0);
    assert.equal(api.store.get('pods', NS, 'compute-c1-0'), undefined);
    assert.deepEqual(await driver.observe('c1'), { state: 'stopped' });
    assert.ok(api.store.get('persistentvolumeclaims', NS, 'data-compute-c1-0'), 'data kept while asleep');
  });

  it('a pod that never gets Ready fails within the bound, naming compute, namespace and pod state', async () => {
    const short = createKubernetesDriver({ kubeConfig: api.kubeConfig(), namespace: NS, readyTimeoutMs: 500, logger: testLogger() });
    await short.provision(request('stuck'));
    api.setNeverReady(NS, 'compute-stuck');
    const started = performance.now();
    await assert.rejects(short.resume('stuck', never()), (err: Error) => {
      assert.match(err.message, /compute 'stuck'/);
      assert.match(err.message, /namespace 'computes'/);
      assert.match(err.message, /not Ready within 500 ms/);
      assert.match(err.message, /phase Running/);
      assert.match(err.message, /Ready=False \(ContainersNotReady/);
      return true;
    });
    const ms = performance.now() - started;
    assert.ok(ms >= 450 && ms < 1_500, `failed after ${Math.round(ms)} ms`);
    await short.suspend('stuck', 'stop');
    await short.close();
  });

  it('resume honours its abort signal', async () => {
    await driver.provision(request('slow'));
    api.setNeverReady(NS, 'compute-slow');
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('client gave up')), 100);
    const started = performance.now();
    await assert.rejects(driver.resume('slow', ac.signal), /compute 'slow' in namespace 'computes': wait for pod compute-slow-0 to be Ready aborted/);
    assert.ok(performance.now() - started < 1_000);
    await driver.suspend('slow', 'stop');
  });

  it('resume of a compute never provisioned says so', async () => {
    await assert.rejects(driver.resume('ghost', never()), /compute 'ghost' in namespace 'computes': StatefulSet compute-ghost does not exist/);
    assert.deepEqual(await driver.observe('ghost'), { state: 'stopped' });
  });

  it('falls back to polling when the API refuses watches', async () => {
    api.watchEnabled = false;
    try {
      await driver.provision(request('nowatch'));
      assert.equal((await driver.resume('nowatch', never())).host, '127.0.0.1');
      await driver.suspend('nowatch', 'stop');
    } finally {
      api.watchEnabled = true;
    }
  });

  it('reports a deleted pod and a restarted container as unexpected exits, and not a suspend', async () => {
    const exits: [string, string][] = [];
    driver.onUnexpectedExit((id, reason) => exits.push([id, reason]));
    const waitForExits = async (n: number) => {
      const deadline = Date.now() + 2_000;
      while (exits.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    };
    await driver.provision(request('c2'));
    await driver.resume('c2', never());
    await driver.suspend('c2', 'stop');
    await driver.resume('c2', never());
    api.killPod(NS, 'compute-c2-0');
    await waitForExits(1);
    assert.deepEqual(exits, [['c2', 'pod compute-c2-0 was deleted']]);

    await driver.resume('c2', never());
    api.restartContainer(NS, 'compute-c2-0', 'OOMKilled', 137);
    await waitForExits(2);
    assert.deepEqual(exits[1], ['c2', 'container of pod compute-c2-0 restarted (OOMKilled, exit code 137)']);
    await driver.suspend('c2', 'stop');
    assert.equal(exits.length, 2);
  });

  it('destroy deletes the StatefulSet, Service, Secret and volume claims', async () => {
    await driver.resume('c1', never());
    await driver.destroy('c1');
    assert.equal(api.store.get('statefulsets', NS, 'compute-c1'), undefined);
    assert.equal(api.store.get('services', NS, 'compute-c1'), undefined);
    assert.equal(api.store.get('secrets', NS, 'compute-c1-init'), undefined);
    assert.equal(api.store.get('persistentvolumeclaims', NS, 'data-compute-c1-0'), undefined);
    assert.equal(api.store.get('pods', NS, 'compute-c1-0'), undefined);
    await driver.destroy('c1'); // again: nothing left, no error
  });

  it('close({ stopComputes }) scales every compute to 0', async () => {
    const other = createKubernetesDriver({ kubeConfig: api.kubeConfig(), namespace: NS, logger: testLogger() });
    await other.provision(request('c3'));
    await other.resume('c3', never());
    await other.close({ stopComputes: true });
    assert.equal(api.store.get('statefulsets', NS, 'compute-c3')!.spec.replicas, 0);
    assert.equal(api.store.get('pods', NS, 'compute-c3-0'), undefined);
  });

  it('refuses ids that cannot name Kubernetes objects', async () => {
    await assert.rejects(driver.provision(request('Bad_Id')), /compute id 'Bad_Id' cannot name Kubernetes objects/);
  });
});
