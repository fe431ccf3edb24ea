// Every manifest under deploy/ parses, names itself, and spells its fields as
// the Kubernetes API does; the compute example matches what the driver creates.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { dumpYaml, loadAllYaml } from '@kubernetes/client-node';
import { computeStatefulSet, headlessService, initSecret } from '../../control-plane/drivers/kubernetes-manifests.js';
import { VERIFY_OPTIONS } from '../../cli/proxy-options.js';

// dist/test/unit → repository root
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DEPLOY = join(ROOT, 'deploy');

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? yamlFiles(join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

function docs(file: string): any[] {
  return yaml.loadAll(readFileSync(file, 'utf8')).filter((d) => d !== null && d !== undefined);
}

const files = yamlFiles(DEPLOY);
const manifests = files.filter((f) => !f.endsWith('kustomization.yaml'));
const all = manifests.flatMap((f) => docs(f).map((doc) => ({ file: relative(ROOT, f), doc })));
const find = (kind: string, name: string) => all.find((m) => m.doc.kind === kind && m.doc.metadata?.name === name)?.doc;

describe('deploy manifests', () => {
  it('every document has apiVersion, kind and metadata.name', () => {
    assert.ok(all.length >= 15, `found ${all.length} documents`);
    for (const { file, doc } of all) {
      assert.equal(typeof doc.apiVersion, 'string', `${file}: apiVersion`);
      assert.equal(typeof doc.kind, 'string', `${file}: kind`);
      assert.equal(typeof doc.metadata?.name, 'string', `${file}: ${doc.kind} metadata.name`);
    }
  });

  it('every field is one the API knows (a misspelt field would be dropped by the typed round trip)', () => {
    for (const { file, doc } of all) {
      const typed = loadAllYaml(yaml.dump(doc))[0];
      const back = yaml.load(dumpYaml(typed));
      assert.deepEqual(back, doc, `${file}: ${doc.kind} ${doc.metadata.name} changed in a typed round trip`);
    }
  });

  it('kustomization lists every manifest outside examples/, and only existing files', () => {
    const kust = docs(join(DEPLOY, 'kustomization.yaml'))[0];
    assert.equal(kust.kind, 'Kustomization');
    const listed = new Set<string>(kust.resources);
    for (const r of listed) assert.ok(files.includes(join(DEPLOY, r)), `kustomization lists missing ${r}`);
    for (const f of manifests.filter((m) => !m.includes(`${join(DEPLOY, 'examples')}`))) {
      assert.ok(listed.has(relative(DEPLOY, f)), `${relative(ROOT, f)} is not in kustomization.yaml`);
    }
  });

  it('the proxy Deployment probes /readyz and /healthz and outlasts its drain', () => {
    const proxy = find('Deployment', 'wake-proxy');
    assert.ok(proxy, 'Deployment wake-proxy');
    assert.equal(proxy.spec.replicas, 3);
    const pod = proxy.spec.template.spec;
    const c = pod.containers.find((x: any) => x.name === 'proxy');
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value]));
    const drainSeconds = parseInt(env.WAKE_PROXY_DRAIN_TIMEOUT, 10);
    assert.ok(VERIFY_OPTIONS['pool-mode']!.choices!.includes(env.WAKE_PROXY_POOL_MODE), 'a pool mode the proxy takes');
    assert.ok(pod.terminationGracePeriodSeconds > drainSeconds + 5, 'grace period covers preStop and drain');
    assert.equal(proxy.spec.template.metadata.annotations['prometheus.io/scrape'], 'true');
    const pdb = find('PodDisruptionBudget', 'wake-proxy');
    assert.deepEqual(pdb.spec.selector.matchLabels, proxy.spec.selector.matchLabels);
    assert.deepEqual(find('Service', 'wake-proxy').spec.selector, proxy.spec.selector.matchLabels);
  });

  it('two control-plane replicas share state in PostgreSQL, behind one Service, with a disruption budget', () => {
    const cp = find('Deployment', 'wake-proxy-control-plane');
    assert.ok(cp.spec.replicas >= 2, 'at least two replicas');
    assert.equal(cp.spec.strategy.type, 'RollingUpdate', 'replicas share a store: a rollout need not stop them all');
    assert.equal(cp.spec.strategy.rollingUpdate.maxUnavailable, 0);
    const pod = cp.spec.template.spec;
    const c = pod.containers.find((x: any) => x.name === 'control-plane');
    const env = Object.fromEntries(c.env.map((e: any) => [e.name, e]));
    const state = new URL(env.WAKE_PROXY_STATE.value);
    assert.equal(state.protocol, 'postgres:');
    assert.equal(state.password, '', 'no password in the URL: it comes from PGPASSWORD');
    assert.deepEqual(env.PGPASSWORD.valueFrom.secretKeyRef, { name: 'wake-proxy-postgres', key: 'password' });
    assert.ok(find('Secret', 'wake-proxy-postgres')?.stringData?.password, 'the password Secret exists');
    assert.equal(env.WAKE_PROXY_DRIVER.value, 'kubernetes', 'the highly available form is the kubernetes driver');
    assert.ok(/^\d+s$/.test(env.WAKE_PROXY_LEASE.value), 'a lease');
    for (const v of pod.volumes ?? []) assert.equal(v.persistentVolumeClaim, undefined, `volume ${v.name}: no ReadWriteOnce state tying the control plane to one replica`);
    assert.equal(find('PersistentVolumeClaim', 'wake-proxy-control-plane-state'), undefined);

    const postgres = find('StatefulSet', state.hostname);
    assert.ok(postgres, `a StatefulSet named like the state host (${state.hostname})`);
    const pgService = find('Service', state.hostname);
    assert.deepEqual(pgService.spec.selector, postgres.spec.selector.matchLabels);
    assert.equal(pgService.spec.ports[0].port, Number(state.port));
    const pgEnv = Object.fromEntries(postgres.spec.template.spec.containers[0].env.map((e: any) => [e.name, e]));
    assert.equal(pgEnv.POSTGRES_USER.value, state.username);
    assert.equal(pgEnv.POSTGRES_DB.value, state.pathname.slice(1));
    assert.deepEqual(pgEnv.POSTGRES_PASSWORD.valueFrom.secretKeyRef, env.PGPASSWORD.valueFrom.secretKeyRef);

    const pdb = find('PodDisruptionBudget', 'wake-proxy-control-plane');
    assert.deepEqual(pdb.spec.selector.matchLabels, cp.spec.selector.matchLabels);
    assert.ok(pdb.spec.minAvailable >= 1 && pdb.spec.minAvailable < cp.spec.replicas, 'a drain can take one replica, never all');
    const service = find('Service', 'wake-proxy-control-plane');
    assert.deepEqual(service.spec.selector, cp.spec.selector.matchLabels);

    // The proxies reach every replica through that one Service.
    const proxyEnv = find('Deployment', 'wake-proxy').spec.template.spec.containers[0].env;
    const controlUrl = new URL(proxyEnv.find((e: any) => e.name === 'WAKE_PROXY_CONTROL_URL').value);
    assert.equal(controlUrl.hostname, 'wake-proxy-control-plane');
    assert.equal(Number(controlUrl.port), service.spec.ports[0].port);
  });

  it('the control plane Role allows what the kubernetes driver calls', () => {
    const role = find('Role', 'wake-proxy-control-plane');
    const allows = (resource: string, verb: string) =>
      role.rules.some((r: any) => r.resources.includes(resource) && r.verbs.includes(verb));
    const needed: [string, string[]][] = [
      ['statefulsets', ['get', 'list', 'create', 'delete']],
      ['statefulsets/scale', ['get', 'update']],
      ['pods', ['get', 'list', 'watch']],
      ['pods/resize', ['patch']],
      ['services', ['create', 'delete']],
      ['secrets', ['create', 'delete']],
      ['persistentvolumeclaims', ['list', 'delete']],
    ];
    for (const [resource, verbs] of needed) for (const v of verbs) assert.ok(allows(resource, v), `${v} ${resource}`);
    assert.ok(role.rules.some((r: any) => r.apiGroups.includes('metrics.k8s.io') && r.resources.includes('pods') && r.verbs.includes('get')), 'pod metrics');
    // Resizing goes through the pod, never the StatefulSet's template: no update or patch of statefulsets.
    assert.ok(!role.rules.some((r: any) => r.resources.includes('statefulsets') && (r.verbs.includes('update') || r.verbs.includes('patch'))));
  });

  it('the compute example is what the driver creates', () => {
    const example = docs(join(DEPLOY, 'examples', 'compute-statefulset.yaml'));
    const req = { computeId: 'demo', projectId: 'demo', ownerUser: 'owner', ownerVerifier: '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19' };
    const shape = { namespace: 'wake-proxy', image: 'mariadb:10.11', port: 3306, storageSize: '1Gi' };
    const made = [initSecret(req, shape), headlessService(req, shape), computeStatefulSet(req, shape)];
    assert.deepEqual(example, JSON.parse(JSON.stringify(made)));
  });
});
