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
import { VERIFY_OPTIONS } from '../../cli/tables.js';

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

  it('the control plane Role allows what the kubernetes driver calls', () => {
    const role = find('Role', 'wake-proxy-control-plane');
    const allows = (resource: string, verb: string) =>
      role.rules.some((r: any) => r.resources.includes(resource) && r.verbs.includes(verb));
    const needed: [string, string[]][] = [
      ['statefulsets', ['get', 'list', 'create', 'delete']],
      ['statefulsets/scale', ['get', 'update']],
      ['pods', ['list', 'watch']],
      ['services', ['create', 'delete']],
      ['secrets', ['create', 'delete']],
      ['persistentvolumeclaims', ['list', 'delete']],
    ];
    for (const [resource, verbs] of needed) for (const v of verbs) assert.ok(allows(resource, v), `${v} ${resource}`);
  });

  it('the compute example is what the driver creates', () => {
    const example = docs(join(DEPLOY, 'examples', 'compute-statefulset.yaml'));
    const req = { computeId: 'demo', projectId: 'demo', ownerUser: 'owner', ownerVerifier: '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19' };
    const shape = { namespace: 'wake-proxy', image: 'mariadb:10.11', port: 3306, storageSize: '1Gi' };
    const made = [initSecret(req, shape), headlessService(req, shape), computeStatefulSet(req, shape)];
    assert.deepEqual(example, JSON.parse(JSON.stringify(made)));
  });
});
