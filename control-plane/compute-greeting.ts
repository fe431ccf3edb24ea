// The computes' greeting, for proxies that have met no compute yet. A proxy greets a
// client before the client names its project, so in front of a control plane it cannot
// read that compute's greeting first, and drivers that take their connection collation
// from the greeting would take the proxy's built-in one (README, "Pool modes"). Every
// compute is started by a control plane: right after one becomes active here, its
// greeting is read (logged in as the control account, then COM_QUIT, which the server
// counts as nothing) and its facts kept in the shared state, where
// GET /api/v1/greeting serves them to proxies. One read at a time (computes started
// together run the same server), and at most one an hour. A read that fails keeps the
// facts there were.
import type { Logger } from 'pino';
import { readGreeting } from '../backend/read-greeting.js';
import { nativePasswordStage1 } from '../protocol/index.js';
import { GreetingFactsError, checkFacts, formatGreetingFacts, greetingFacts, parseGreetingFacts, sameFacts, type GreetingFacts } from '../backend/greeting-facts.js';
import type { ComputeTransition } from './compute-operations.js';
import type { StateStore } from './store/state-store.js';

/** The facts as proxies read them (formatGreetingFacts), with when they were read (Unix ms). */
export type KeptGreeting = GreetingFacts & { at: number };

/** How long an answer waits for a read under way. */
const LATEST_WAIT_MS = 1_000;
/** A compute's greeting is read again at most this often: each read is a connection of the control account, which computes provisioned before it could hold six allow five of. */
const REREAD_MS = 3_600_000;

export interface ComputeGreetingDeps {
  store: StateStore;
  logger: Logger;
  /** Bound on one read, connect to COM_QUIT; default 5000. */
  readTimeoutMs?: number;
}

export class ComputeGreetings {
  private reading: Promise<void> | undefined;
  private closed = false;
  private readonly readTimeoutMs: number;

  constructor(private readonly d: ComputeGreetingDeps) {
    this.readTimeoutMs = d.readTimeoutMs ?? 5_000;
  }

  /** Told every compute transition this control plane makes: an active compute's greeting is read. */
  computeTransition(e: ComputeTransition): void {
    if (this.closed || e.state !== 'active' || this.reading) return;
    this.reading = this.read(e.computeId).finally(() => {
      this.reading = undefined;
    });
  }

  /** The facts kept, or undefined: no compute read yet, or what is stored does not check (logged). */
  async latest(): Promise<KeptGreeting | undefined> {
    // A read under way here (a compute just started) is waited for, a little: a client may be about to connect,
    // and a proxy asks with a bound of its own (2 s).
    if (this.reading) await Promise.race([this.reading, new Promise((r) => setTimeout(r, LATEST_WAIT_MS).unref())]);
    try {
      return await this.stored();
    } catch (err) {
      if (!(err instanceof GreetingFactsError)) throw err;
      this.d.logger.warn({ err }, 'the stored compute greeting does not check; serving none');
      return undefined;
    }
  }

  private async stored(): Promise<KeptGreeting | undefined> {
    const json = await this.d.store.getComputeGreeting();
    if (json === undefined) return undefined;
    // Checked whole (parseGreetingFacts), `at` included.
    return { ...parseGreetingFacts(json), at: (JSON.parse(json) as { at: number }).at };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.reading;
  }

  private async read(computeId: string): Promise<void> {
    try {
      const c = await this.d.store.getCompute(computeId);
      // A compute provisioned before control accounts existed is not logged in to.
      if (!c || c.state !== 'active' || !c.endpoint || !c.control) return;
      // Facts that do not check are written over.
      const before = await this.stored().catch((err: unknown) => {
        if (err instanceof GreetingFactsError) return undefined;
        throw err;
      });
      if (before && Date.now() - before.at < REREAD_MS) return;
      const account = { user: c.control.user, stage1: nativePasswordStage1(c.control.password) };
      const facts = greetingFacts(await readGreeting(c.endpoint, { account, timeoutMs: this.readTimeoutMs }));
      checkFacts(facts);
      // Written even when the same: `at` says when it was last seen.
      await this.d.store.saveComputeGreeting(formatGreetingFacts(facts, Date.now()));
      if (!before || !sameFacts(before, facts)) {
        this.d.logger.info({ computeId, serverVersion: facts.serverVersion, charset: facts.charset }, 'compute greeting kept for proxies');
      }
    } catch (err) {
      // A compute suspended or gone while being read is no news.
      const still = await this.d.store.getCompute(computeId).catch(() => undefined);
      if (still?.state === 'active') this.d.logger.warn({ err, computeId }, 'could not read the compute greeting; keeping the last one');
      else this.d.logger.debug({ err, computeId }, 'compute greeting not read: the compute is no longer active');
    }
  }
}
