// Direct Kubernetes mode: the proxy wakes a project's compute itself by
// scaling the project's StatefulSet, with no control plane in between (a
// sidecar next to one application, or a small cluster without the control
// API). One scale per project however many clients wait; the pod's address is
// cached for `cacheTtlMs` and dropped when a connect to it fails.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { ProjectNotFoundError, WakeError } from './errors.js';
import { isNotFound, kubeErrorMessage, kubeStatusCode } from '../kube/kube-api.js';
import { KubeWaitError } from '../kube/pod-wait.js';
import { kubeClients, scaleUpAndWaitReady } from '../kube/scale.js';
import { AddressCache } from './address-cache.js';
import type { ComputeResolver } from './types.js';
import type { BackendAddress } from '../backend/address.js';

export interface KubernetesResolverOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /**
   * The StatefulSet that serves a project: a template in which `{project}` is
   * replaced (default `compute-{project}`; a name without it pins every
   * project to that one StatefulSet), or a function.
   */
  statefulSetName?: string | ((project: string) => string);
  /** The port MariaDB listens on in the pod. */
  port?: number;
  /** Bound on scaling up and the pod turning Ready (image pull, volume attach, recovery). */
  readyTimeoutMs?: number;
  /** How long a Ready pod's address is reused without asking the API again. */
  cacheTtlMs?: number;
  logger?: Logger;
}

export const DEFAULT_STATEFULSET_TEMPLATE = 'compute-{project}';
/** A DNS subdomain, what Kubernetes accepts as a StatefulSet name (the pod adds "-0"). */
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9.]{0,58}[a-z0-9])?$/;

export function statefulSetNamer(spec: string | ((project: string) => string) = DEFAULT_STATEFULSET_TEMPLATE) {
  return typeof spec === 'function' ? spec : (project: string) => spec.replaceAll('{project}', project);
}

export function createKubernetesResolver(opts: KubernetesResolverOptions): ComputeResolver {
  const k = kubeClients(opts.kubeConfig, opts.namespace, opts.logger);
  const nameOf = statefulSetNamer(opts.statefulSetName);
  const port = opts.port ?? 3306;
  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
  const cache = new AddressCache(opts.cacheTtlMs ?? 10_000);
  // Aborted by close(): wakes still running end at once, with their watches.
  const closing = new AbortController();

  async function wake(project: string): Promise<BackendAddress> {
    const name = nameOf(project);
    // A name Kubernetes would reject cannot exist; do not send it to the API.
    if (!OBJECT_NAME.test(name)) throw new ProjectNotFoundError(project);
    try {
      const addr = await scaleUpAndWaitReady(k, name, {
        port,
        timeoutMs: readyTimeoutMs,
        subject: `project '${project}' (StatefulSet ${name})`,
        signal: closing.signal,
      });
      return { host: addr.host, port: addr.port, computeId: name };
    } catch (err) {
      throw toResolverError(project, name, opts.namespace, err);
    }
  }

  return {
    resolve: (project, signal) => cache.get(project, signal, () => wake(project)),
    cached: (project) => cache.peek(project),
    invalidate: (project, addr) => cache.invalidate(project, addr),
    entries: () => cache.entries(),
    close() {
      closing.abort(new Error('kubernetes resolver closed'));
      cache.clear();
      return Promise.resolve();
    },
  };
}

/** What the proxy can map: not found (access denied), or a wake failure with its cause. */
function toResolverError(project: string, name: string, namespace: string, err: unknown): Error {
  if (isNotFound(err)) return new ProjectNotFoundError(project);
  if (err instanceof KubeWaitError) {
    return new WakeError(project, err.reason === 'timeout' ? 'timeout' : 'start_failed', err.message, { cause: err });
  }
  const status = kubeStatusCode(err);
  const where = `project '${project}': StatefulSet ${name} in namespace '${namespace}'`;
  if (status === undefined) {
    return new WakeError(project, 'control_api_unreachable', `${where}: Kubernetes API unreachable: ${kubeErrorMessage(err)}`, {
      cause: err,
    });
  }
  return new WakeError(project, 'control_api_error', `${where}: Kubernetes API refused: ${kubeErrorMessage(err)}`, { cause: err });
}
