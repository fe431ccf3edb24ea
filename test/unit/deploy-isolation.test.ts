// Isolation in deploy/, checked on the rendered manifests (no cluster here):
// the NetworkPolicies let the proxies and the control plane reach computes on
// 3306 and nothing else reach them, computes reach nothing (another compute
// least of all), Redis and PostgreSQL take only their clients; and every
// workload has resource requests and limits, a compute's from its size.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { computeStatefulSet } from '../../control-plane/drivers/kubernetes-manifests.js';
import { resourcesOf } from '../../control-plane/compute-size.js';
import { allowed, type NetworkPolicy, type PodRef } from '../helpers/network-policy.js';

const DEPLOY = fileURLToPath(new URL('../../../deploy/', import.meta.url));
const kustomization = yaml.load(readFileSync(join(DEPLOY, 'kustomization.yaml'), 'utf8')) as { namespace: string; resources: string[] };
const NS = kustomization.namespace;
// What `kubectl apply -k` applies: the listed files, in the kustomization's namespace.
const docs = kustomization.resources.flatMap((f) =>
  (yaml.loadAll(readFileSync(join(DEPLOY, f), 'utf8')) as any[]).filter(Boolean).map((d) => ({ ...d, metadata: { ...d.metadata, namespace: NS } })),
);
const policies = docs.filter((d) => d.kind === 'NetworkPolicy') as NetworkPolicy[];
const workload = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name);
const podOf = (w: any): PodRef => ({ namespace: NS, labels: w.spec.template.metadata.labels });

const shape = { namespace: NS, image: 'mariadb:10.11', port: 3306, storageSize: '1Gi' };
const computeOf = (id: string, cu = 250) =>
  computeStatefulSet({ computeId: id, projectId: `p-${id}`, ownerUser: 'owner', ownerVerifier: '*' + '0'.repeat(40), size: resourcesOf(cu) }, shape);

const proxy = podOf(workload('Deployment', 'wake-proxy'));
const controlPlane = podOf(workload('Deployment', 'wake-proxy-control-plane'));
const redis = podOf(workload('Deployment', 'wake-proxy-redis'));
const postgres = podOf(workload('StatefulSet', 'wake-proxy-postgres'));
const shop = podOf(computeOf('shop-c1'));
const blog = podOf(computeOf('blog-c1'));
const app: PodRef = { namespace: NS, labels: { app: 'shop-frontend' } };
const elsewhere = (p: PodRef): PodRef => ({ namespace: 'other-team', labels: p.labels });

describe('deploy isolation', () => {
  it('the policies are applied and select what they name', () => {
    assert.ok(kustomization.resources.includes('network-policies.yaml'));
    assert.deepEqual(policies.map((p) => p.metadata.name).sort(), ['wake-proxy-computes', 'wake-proxy-postgres', 'wake-proxy-redis']);
  });

  it('computes take MySQL from the proxies and the control plane only', () => {
    assert.equal(allowed(policies, proxy, shop, 3306), true, 'proxy to compute');
    assert.equal(allowed(policies, controlPlane, shop, 3306), true, 'control plane to compute (accounts, autoscaler)');
    assert.equal(allowed(policies, proxy, shop, 22), false, 'no other port');
    assert.equal(allowed(policies, proxy, shop, 4567), false, 'no other port');
    assert.equal(allowed(policies, app, shop, 3306), false, 'an application pod in the namespace goes through the proxy');
    assert.equal(allowed(policies, elsewhere(proxy), shop, 3306), false, 'pods labelled as proxies in another namespace');
    assert.equal(allowed(policies, redis, shop, 3306), false);
  });

  it('computes reach nothing: not one another, not the shared parts', () => {
    assert.equal(allowed(policies, shop, blog, 3306), false, 'compute to compute');
    assert.equal(allowed(policies, blog, shop, 3306), false);
    assert.equal(allowed(policies, shop, redis, 6379), false);
    assert.equal(allowed(policies, shop, postgres, 5432), false);
    assert.equal(allowed(policies, shop, controlPlane, 8080), false);
  });

  it('Redis serves the proxies and the control plane; PostgreSQL the control plane alone', () => {
    assert.equal(allowed(policies, proxy, redis, 6379), true);
    assert.equal(allowed(policies, controlPlane, redis, 6379), true);
    assert.equal(allowed(policies, app, redis, 6379), false);
    assert.equal(allowed(policies, controlPlane, postgres, 5432), true);
    assert.equal(allowed(policies, proxy, postgres, 5432), false, 'the proxies never touch the state');
    assert.equal(allowed(policies, app, postgres, 5432), false);
  });

  it('the proxies and the control plane stay reachable by clients and by one another', () => {
    assert.equal(allowed(policies, app, proxy, 3306), true);
    assert.equal(allowed(policies, proxy, controlPlane, 8080), true);
  });

  it('every compute has requests equal to limits from its size; every other workload has requests and a memory limit', () => {
    for (const cu of [250, 1000, 2500]) {
      const c = computeOf('x', cu).spec!.template.spec!.containers[0]!;
      const size = resourcesOf(cu);
      assert.deepEqual(c.resources, {
        requests: { cpu: `${size.cpuMillicores}m`, memory: `${size.memoryBytes / 1024 ** 2}Mi` },
        limits: { cpu: `${size.cpuMillicores}m`, memory: `${size.memoryBytes / 1024 ** 2}Mi` },
      });
      assert.ok(c.args!.includes(`--innodb-buffer-pool-size=${size.bufferPoolBytes}`), 'its buffer pool fits in its memory');
    }
    for (const w of docs.filter((d) => d.kind === 'Deployment' || d.kind === 'StatefulSet')) {
      for (const c of w.spec.template.spec.containers) {
        assert.ok(c.resources?.requests?.cpu && c.resources?.requests?.memory, `${w.metadata.name}/${c.name}: requests`);
        assert.ok(c.resources?.limits?.memory, `${w.metadata.name}/${c.name}: a memory limit`);
      }
    }
  });
});
