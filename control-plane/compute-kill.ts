// POST /api/v1/compute/{id}/kill-query: a proxy whose passthrough client left in the
// middle of a statement asks the control plane to stop it, since only the control
// plane's account (CONNECTION ADMIN, control-account.ts) can: the proxy never had the
// client's password. One KILL at a time per compute, so a crowd of clients leaving at
// once stays within the account's connection limit.
import { ApiError, conflict } from './api-error.js';
import { withControlConnection } from './control-connection.js';
import type { ComputeRecord } from './records.js';

const KILL_TIMEOUT_MS = 5_000;

export class ComputeKills {
  private readonly queues = new Map<string, Promise<unknown>>();

  /** True when the statement was stopped, false when the thread was gone already. */
  killQuery(c: ComputeRecord, thread: number): Promise<{ killed: boolean }> {
    const { endpoint, control } = c;
    if (c.state !== 'active' || !endpoint) throw conflict('compute_not_active', `compute ${c.id} is ${c.state}: no statement runs on it`);
    if (!control) throw conflict('no_control_account', `compute ${c.id} has no control account (provisioned before there was one)`);
    const previous = this.queues.get(c.id) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() =>
      withControlConnection(endpoint, control, KILL_TIMEOUT_MS, async (query) => {
        try {
          await query(`KILL QUERY ${thread}`);
          return { killed: true };
        } catch (err) {
          if ((err as { errno?: number }).errno === 1094) return { killed: false };
          throw err;
        }
      }).catch((err: unknown) => {
        throw new ApiError(502, 'kill_failed', `compute ${c.id}: KILL QUERY ${thread} failed: ${(err as Error).message}`, { cause: err });
      }),
    );
    this.queues.set(c.id, run);
    void run.finally(() => {
      if (this.queues.get(c.id) === run) this.queues.delete(c.id);
    }).catch(() => undefined);
    return run;
  }
}
