// Active computes are asked, every intervalMs, whether they still answer: a login as
// the control account and `DO 1`, within timeoutMs. A compute can stop answering
// while its process lives and its address is fresh (stopped with SIGSTOP outside the
// control plane, wedged): proxies would keep sending clients to it, and their
// statements would wait on it without bound. One that gives no answer twice in a
// row is reported failed and restarted (ComputeLifecycle.restartUnresponsive). The
// leader alone probes (leader-duties.ts), a new prober per term, fenced by its epoch.
//
// Only silence counts: an error from the server (too many connections, a refused
// login) is an answer. A compute provisioned before the control account existed is
// only asked for its greeting.
import { connect } from 'node:net';
import type { Logger } from 'pino';
import { withControlConnection } from './control-connection.js';
import type { ControlLogin } from './control-account.js';
import type { ComputeEndpoint } from './drivers/driver.js';
import type { LeaderFence } from './store/state-store.js';

export interface ProberOptions {
  /** Default 5000; 0 turns probing off. */
  intervalMs?: number;
  /** Bound on one probe; default 3000. */
  timeoutMs?: number;
}

export interface ProbeTarget {
  id: string;
  endpoint: ComputeEndpoint;
  control?: ControlLogin;
  /** When it last changed state: a restart applies only to the compute as probed. */
  updatedAt: string;
}

export interface ProberDeps {
  activeComputes(): Promise<ProbeTarget[]>;
  restartUnresponsive(id: string, reason: string, seenUpdatedAt: string, fence: LeaderFence): Promise<boolean>;
  /** The term's fence; undefined once this control plane no longer leads (nothing is restarted then). */
  fence(): LeaderFence | undefined;
  logger: Logger;
}

export interface ComputeProber {
  close(): void;
}

export function startComputeProber(d: ProberDeps, o: ProberOptions = {}): ComputeProber {
  const intervalMs = o.intervalMs ?? 5_000;
  const timeoutMs = o.timeoutMs ?? 3_000;
  const probing = new Set<string>();
  let closed = false;
  const check = async (t: ProbeTarget) => {
    probing.add(t.id);
    try {
      // Twice, back to back: one slow answer under load is not a hung compute.
      const first = await silence(t, timeoutMs);
      const second = first && !closed ? await silence(t, timeoutMs) : null;
      if (!second || closed) return;
      const reason = `did not answer within ${timeoutMs} ms, twice (${second})`;
      const fence = d.fence();
      if (fence) await d.restartUnresponsive(t.id, reason, t.updatedAt, fence);
    } catch (err) {
      d.logger.error({ err, computeId: t.id }, 'compute probe failed');
    } finally {
      probing.delete(t.id);
    }
  };
  const timer =
    intervalMs > 0
      ? setInterval(() => {
          d.activeComputes().then(
            (targets) => {
              for (const t of targets) if (!probing.has(t.id) && !closed) void check(t);
            },
            (err: unknown) => d.logger.warn({ err }, 'could not list the computes to probe'),
          );
        }, intervalMs)
      : undefined;
  timer?.unref();
  return {
    close() {
      closed = true;
      if (timer) clearInterval(timer);
    },
  };
}

/** Why the compute gave no answer, or null if it answered (an error from the server is an answer). */
async function silence(t: ProbeTarget, timeoutMs: number): Promise<string | null> {
  try {
    if (t.control) await withControlConnection(t.endpoint, t.control, timeoutMs, (query) => query('DO 1'));
    else await greeting(t.endpoint, timeoutMs);
    return null;
  } catch (err) {
    if (typeof (err as { errno?: unknown }).errno === 'number' && (err as { sqlState?: unknown }).sqlState) return null;
    return (err as Error).message;
  }
}

/** The first bytes of the server's greeting (or of an ERR it sends instead). */
function greeting(endpoint: ComputeEndpoint, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(endpoint);
    const done = (err?: Error) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => done(new Error(`no greeting within ${timeoutMs} ms`)), timeoutMs);
    socket.once('data', () => done());
    socket.once('error', (err) => done(err));
  });
}
