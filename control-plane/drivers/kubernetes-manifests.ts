// The Kubernetes objects of one compute, as plain data: a Secret with the SQL
// that creates the owner on first boot, a headless Service (the StatefulSet's
// governing service), and a StatefulSet of at most one pod whose volume claim
// keeps /var/lib/mysql across sleeps. deploy/compute-statefulset.example.yaml
// shows the same objects as YAML.
import type { V1Secret, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import type { ProvisionRequest } from './driver.js';
import { ownerInitSql } from './compute-files.js';
import { MIN_CU_MILLI, resourcesOf, sizeArgs } from '../compute-size.js';
import { containerResources, MAIN_CONTAINER } from './kubernetes-resize.js';

export const COMPUTE_APP = 'wake-proxy-compute';
export const LABEL_APP = 'app.kubernetes.io/name';
export const LABEL_COMPUTE = 'wake-proxy/compute';
export const LABEL_PROJECT = 'wake-proxy/project';
/** The volume claim template's name; the PVC of pod 0 is `data-compute-<id>-0`. */
export const DATA_VOLUME = 'data';

/** Room for "compute-" and the "-0" pod suffix inside a 63-character label value. */
const COMPUTE_ID = /^[a-z0-9]([-a-z0-9]{0,43}[a-z0-9])?$/;
/** A label value: project ids are stored as one. */
const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

export interface ComputeShape {
  namespace: string;
  image: string;
  /** Port mariadbd listens on in the pod. */
  port: number;
  storageSize: string;
  storageClassName?: string | undefined;
}

export function computeName(computeId: string): string {
  if (!COMPUTE_ID.test(computeId)) {
    throw new Error(`compute id '${computeId}' cannot name Kubernetes objects: use 1-45 lowercase letters, digits and '-'`);
  }
  return `compute-${computeId}`;
}

export function initSecretName(computeId: string): string {
  return `${computeName(computeId)}-init`;
}

/** What selects the compute's pod; never changes after creation (selectors are immutable). */
export function selectorLabels(computeId: string): Record<string, string> {
  return { [LABEL_APP]: COMPUTE_APP, [LABEL_COMPUTE]: computeId };
}

export function computeLabels(req: ProvisionRequest): Record<string, string> {
  if (!LABEL_VALUE.test(req.projectId)) {
    throw new Error(`project id '${req.projectId}' of compute '${req.computeId}' is not a valid Kubernetes label value`);
  }
  return { ...selectorLabels(req.computeId), [LABEL_PROJECT]: req.projectId, 'app.kubernetes.io/managed-by': 'wake-proxy' };
}

/**
 * The official image runs `*.sql` in /docker-entrypoint-initdb.d once, when it
 * initialises an empty datadir: the owner exists from the first boot on and the
 * file is never read again. Only the verifier is stored, never the password.
 */
export function initSecret(req: ProvisionRequest, s: ComputeShape): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: initSecretName(req.computeId), namespace: s.namespace, labels: computeLabels(req) },
    type: 'Opaque',
    // The control plane reads accounts from another pod, so its account takes any host ('%').
    stringData: { 'owner.sql': ownerInitSql(req.ownerUser, req.ownerVerifier, req.control && { ...req.control, host: '%' }) },
  };
}

export function headlessService(req: ProvisionRequest, s: ComputeShape): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: computeName(req.computeId), namespace: s.namespace, labels: computeLabels(req) },
    spec: {
      clusterIP: 'None',
      selector: selectorLabels(req.computeId),
      ports: [{ name: 'mysql', port: s.port, targetPort: s.port }],
    },
  };
}

export function computeStatefulSet(req: ProvisionRequest, s: ComputeShape): V1StatefulSet {
  const name = computeName(req.computeId);
  const labels = computeLabels(req);
  // Every start begins at this size; the autoscaler resizes the running pod in place.
  const size = req.size ?? resourcesOf(MIN_CU_MILLI);
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, namespace: s.namespace, labels },
    spec: {
      // Provisioned asleep: the first resume boots it and runs the init SQL.
      replicas: 0,
      serviceName: name,
      selector: { matchLabels: selectorLabels(req.computeId) },
      // Scaling to 0 is sleep, so the data must stay; deleting the set is destroy.
      persistentVolumeClaimRetentionPolicy: { whenScaled: 'Retain', whenDeleted: 'Delete' },
      template: {
        metadata: { labels },
        spec: {
          // A database needs no API token and no service environment variables.
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 30,
          // The image's mysql user (999) owns the datadir and reads the init secret.
          securityContext: { fsGroup: 999 },
          containers: [
            {
              name: MAIN_CONTAINER,
              image: s.image,
              // The proxy matches account hosts against its IP, as a compute that resolves no names does.
              args: [`--port=${s.port}`, '--skip-name-resolve', ...sizeArgs(size)],
              env: [
                { name: 'MARIADB_RANDOM_ROOT_PASSWORD', value: '1' },
                { name: 'MARIADB_AUTO_UPGRADE', value: '1' },
              ],
              ports: [{ name: 'mysql', containerPort: s.port }],
              // TCP opens only once the real server runs (init uses --skip-networking);
              // probing every second keeps wake latency close to boot time.
              readinessProbe: { tcpSocket: { port: s.port }, periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 3 },
              // Requests equal limits (Guaranteed QoS: an in-place resize must keep the class),
              // and both resize without a restart.
              resources: containerResources(size),
              resizePolicy: [
                { resourceName: 'cpu', restartPolicy: 'NotRequired' },
                { resourceName: 'memory', restartPolicy: 'NotRequired' },
              ],
              volumeMounts: [
                { name: DATA_VOLUME, mountPath: '/var/lib/mysql' },
                { name: 'init', mountPath: '/docker-entrypoint-initdb.d', readOnly: true },
              ],
            },
          ],
          volumes: [{ name: 'init', secret: { secretName: initSecretName(req.computeId), defaultMode: 0o440 } }],
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: DATA_VOLUME, labels },
          spec: {
            accessModes: ['ReadWriteOnce'],
            resources: { requests: { storage: s.storageSize } },
            ...(s.storageClassName ? { storageClassName: s.storageClassName } : {}),
          },
        },
      ],
    },
  };
}
