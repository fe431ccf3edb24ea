// Per-project fairness: one noisy tenant cannot take every connection, flood
// a compute with new sessions, or pile up clients behind one wake.
import { ClientError, ER_CON_COUNT_ERROR, ER_HOST_IS_BLOCKED, ER_USER_LIMIT_REACHED } from './client-error.js';
import { TokenBucket } from '../util/token-bucket.js';

export interface LimitsConfig {
  /** Client connections in all; beyond it new clients get 1040 before the greeting. */
  maxConnections?: number;
  maxConnectionsPerProject?: number;
  /** New connections per second per project (burst of the same size). */
  connectionRatePerProject?: number;
  /** Clients of one project held waiting for its compute at once. */
  maxWaitingPerProject?: number;
  /** Failed logins per minute per (project, client address) before that pair is refused for a while. */
  maxAuthFailuresPerMinute?: number;
}

interface ProjectCounters {
  connections: number;
  waiting: number;
  bucket: TokenBucket | null;
  lastUsed: number;
}

export class ProjectLimits {
  private readonly projects = new Map<string, ProjectCounters>();
  private readonly authFailures = new Map<string, TokenBucket>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly cfg: LimitsConfig) {
    // Counters of quiet projects are dropped, but only once their rate bucket has
    // refilled: dropping earlier would let a connect-disconnect loop dodge the rate.
    this.sweeper = setInterval(() => this.sweep(), 30_000);
    this.sweeper.unref();
  }

  get maxConnections(): number | undefined {
    return this.cfg.maxConnections;
  }

  /** Admit one more client of `project`; the returned function gives the slot back. */
  admitConnection(project: string): () => void {
    const c = this.counters(project);
    const max = this.cfg.maxConnectionsPerProject;
    if (max !== undefined && c.connections >= max) {
      throw new ClientError(
        ER_CON_COUNT_ERROR,
        '08004',
        `Too many connections: project '${project}' has reached its limit of ${max} client connections`,
        'too_many_connections_project',
      );
    }
    if (c.bucket && !c.bucket.take()) {
      throw new ClientError(
        ER_USER_LIMIT_REACHED,
        '42000',
        `Project '${project}' has exceeded the 'new connections per second' resource (limit ${this.cfg.connectionRatePerProject})`,
        'rate_limited',
      );
    }
    c.connections++;
    return once(() => {
      c.connections--;
      c.lastUsed = Date.now();
    });
  }

  /** Hold one more client waiting for `project`'s compute; the returned function ends the wait. */
  admitWaiter(project: string): () => void {
    const c = this.counters(project);
    const max = this.cfg.maxWaitingPerProject;
    if (max !== undefined && c.waiting >= max) {
      throw new ClientError(
        ER_CON_COUNT_ERROR,
        '08004',
        `Too many connections: ${max} clients are already waiting for project '${project}' to wake`,
        'too_many_waiting',
      );
    }
    c.waiting++;
    return once(() => {
      c.waiting--;
    });
  }

  /** Refuse a (project, client address) that failed to log in too often lately. */
  checkAuthFailures(project: string, clientAddress: string): void {
    const max = this.cfg.maxAuthFailuresPerMinute;
    // No failed login anywhere lately (the usual case): no key to build.
    if (!max || this.authFailures.size === 0) return;
    const bucket = this.authFailures.get(`${project}\u0000${clientAddress}`);
    if (bucket && !bucket.peek()) {
      throw new ClientError(
        ER_HOST_IS_BLOCKED,
        'HY000',
        `Too many failed logins to project '${project}' from ${clientAddress}; wait a minute and try again`,
        'auth_failures_blocked',
      );
    }
  }

  /**
   * Whether a client of `key` (a limitKey) from `clientAddress` would be admitted now,
   * without admitting it: the per-project checks apply only with a `project`, as in the
   * session. For work done before the client's handshake names itself, so a client the
   * limits will refuse costs its compute nothing.
   */
  mayAdmit(key: string, project: string | undefined, clientAddress: string): boolean {
    if (this.cfg.maxAuthFailuresPerMinute && this.authFailures.get(`${key}\u0000${clientAddress}`)?.peek() === false) return false;
    if (project === undefined) return true;
    const c = this.projects.get(project);
    if (!c) return true;
    const max = this.cfg.maxConnectionsPerProject;
    return !(max !== undefined && c.connections >= max) && (!c.bucket || c.bucket.peek());
  }

  recordAuthFailure(project: string, clientAddress: string): void {
    const max = this.cfg.maxAuthFailuresPerMinute;
    if (!max) return;
    const key = `${project}\u0000${clientAddress}`;
    let bucket = this.authFailures.get(key);
    if (!bucket) {
      bucket = new TokenBucket(max, 60_000);
      this.authFailures.set(key, bucket);
    }
    bucket.take();
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  private counters(project: string): ProjectCounters {
    let c = this.projects.get(project);
    if (!c) {
      const rate = this.cfg.connectionRatePerProject;
      c = { connections: 0, waiting: 0, bucket: rate ? new TokenBucket(rate) : null, lastUsed: Date.now() };
      this.projects.set(project, c);
    }
    return c;
  }

  private sweep(): void {
    const cutoff = Date.now() - 60_000;
    for (const [name, c] of this.projects) {
      if (c.connections === 0 && c.waiting === 0 && c.lastUsed < cutoff && (!c.bucket || c.bucket.full)) {
        this.projects.delete(name);
      }
    }
    for (const [key, bucket] of this.authFailures) if (bucket.full) this.authFailures.delete(key);
  }
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

export function tooManyConnections(max: number): ClientError {
  return new ClientError(ER_CON_COUNT_ERROR, '08004', `Too many connections (proxy limit ${max})`, 'too_many_connections');
}
