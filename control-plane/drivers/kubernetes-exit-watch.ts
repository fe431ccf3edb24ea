// Notices computes that stop without being told to: their pod deleted (node
// lost, eviction, someone's kubectl) or their container restarted (crash, OOM
// kill). One watch over all compute pods of the namespace, started when the
// first listener registers and resumed after the server ends it.
import { Watch, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { kubeErrorMessage } from '../../kube/kube-api.js';
import { COMPUTE_APP, LABEL_APP, LABEL_COMPUTE } from './kubernetes-manifests.js';

type ExitListener = (computeId: string, reason: string) => void;

const RESTART_DELAY_MS = 1_000;
const MAX_RESTART_DELAY_MS = 30_000;

export class PodExitWatch {
  private readonly listeners: ExitListener[] = [];
  /** Computes the driver brought up; only their exits are unexpected. */
  private readonly running = new Set<string>();
  private readonly restartCounts = new Map<string, number>();
  private controller: AbortController | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay = RESTART_DELAY_MS;
  private closed = false;

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly namespace: string,
    private readonly logger?: Logger,
  ) {}

  add(listener: ExitListener): void {
    this.listeners.push(listener);
    if (this.listeners.length === 1) this.start();
  }

  /** The compute is meant to run (after resume) or not (before suspend or destroy). */
  expect(computeId: string, running: boolean): void {
    if (running) this.running.add(computeId);
    else this.running.delete(computeId);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.controller?.abort();
  }

  private start(): void {
    if (this.closed) return;
    const path = `/api/v1/namespaces/${encodeURIComponent(this.namespace)}/pods`;
    const started = Date.now();
    const onDone = (err: unknown) => {
      this.controller = undefined;
      if (this.closed) return;
      // A watch that lived a while ended normally; one that fails at once backs off.
      this.retryDelay = Date.now() - started > MAX_RESTART_DELAY_MS ? RESTART_DELAY_MS : Math.min(this.retryDelay * 2, MAX_RESTART_DELAY_MS);
      if (err) this.logger?.warn({ namespace: this.namespace, err: kubeErrorMessage(err) }, 'compute pod watch failed; retrying');
      this.retryTimer = setTimeout(() => this.start(), this.retryDelay);
    };
    new Watch(this.kubeConfig)
      .watch(path, { labelSelector: `${LABEL_APP}=${COMPUTE_APP}` }, (phase, pod: V1Pod) => this.onEvent(phase, pod), onDone)
      .then(
        (c) => {
          if (this.closed) c.abort();
          else this.controller = c;
        },
        onDone,
      );
  }

  private onEvent(phase: string, pod: V1Pod): void {
    const name = pod?.metadata?.name;
    const computeId = pod?.metadata?.labels?.[LABEL_COMPUTE];
    if (!name || !computeId) return;
    if (phase === 'DELETED') {
      this.restartCounts.delete(name);
      this.exited(computeId, `pod ${name} was deleted`);
      return;
    }
    const statuses = pod.status?.containerStatuses ?? [];
    const restarts = statuses.reduce((n, s) => n + (s.restartCount ?? 0), 0);
    const before = this.restartCounts.get(name);
    this.restartCounts.set(name, restarts);
    if (before === undefined || restarts <= before) return;
    const last = statuses.find((s) => s.lastState?.terminated)?.lastState?.terminated;
    const why = last ? `${last.reason ?? 'terminated'}, exit code ${last.exitCode}` : 'restarted';
    this.exited(computeId, `container of pod ${name} restarted (${why})`);
  }

  /** One notice per unexpected exit: the compute counts as stopped until resumed again. */
  private exited(computeId: string, reason: string): void {
    if (!this.running.delete(computeId)) return;
    this.logger?.warn({ namespace: this.namespace, computeId, reason }, 'compute exited unexpectedly');
    for (const l of this.listeners) {
      try {
        l(computeId, reason);
      } catch (err) {
        this.logger?.error({ computeId, err }, 'unexpected-exit listener threw');
      }
    }
  }
}
