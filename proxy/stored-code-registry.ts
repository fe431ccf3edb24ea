// Transaction pooling: each compute's stored code that pins (relay/stored-code-names.ts),
// one object per project shared by all its sessions in this proxy, kept up to date
// from what the proxy is told anyway: the `storedCode` of every role answer (each
// login's, accounts/stored-code.ts), and, while sessions of the project run statements,
// a role answer asked for again once per refreshMs (the verifier cache answers most
// of those without a request). So stored code made elsewhere reaches sessions within
// the control plane's read interval, the verifier cache's ttl and refreshMs.
//
// Unknown stored code (a compute provisioned before the procedure that lists it, a
// static backend without it, a control plane from before it) pins every session at
// its first statement, and is said once per project until it is known again, with
// what to do about it.
import type { Logger } from 'pino';
import type { RoleVerifierClient } from '../control-client/verifiers.js';
import type { StoredCode } from '../accounts/stored-code.js';
import { StoredCodeNames } from '../relay/stored-code-names.js';

export interface StoredCodeOptions {
  verifiers: RoleVerifierClient;
  logger: Logger;
  /** How often a project whose sessions run statements asks for its role answer again; default 5 s. */
  refreshMs?: number;
  /** Projects kept with no session (their names learned from DDL here); default 10,000. */
  maxIdle?: number;
}

const ADVICE = 'every transaction-pooled session of the project pins at its first statement (README, "Stored code and transaction pooling" says what to grant)';

/** One project's stored code, and the sessions sharing it. */
export class ProjectStoredCode {
  readonly names = new StoredCodeNames();
  sessions = 0;
  /** When (performance.now()) a session's borrow next asks for the answer again. */
  private due = 0;
  private refreshing = false;
  private warned = false;

  constructor(
    private readonly project: string,
    private readonly o: Required<StoredCodeOptions>,
  ) {}

  /** What a role answer said. */
  told(code: StoredCode | undefined): void {
    if (code === undefined) return;
    this.due = performance.now() + this.o.refreshMs;
    const { names } = this;
    names.update(code);
    if (!names.known && !this.warned) {
      this.warned = true;
      this.o.logger.warn({ project: this.project, reason: names.reason }, `the compute's stored code is not known: ${ADVICE}`);
    } else if (names.known && this.warned) {
      this.warned = false;
      this.o.logger.info({ project: this.project }, "the compute's stored code is known again: sessions pool");
    }
  }

  /** A session of the project (logged in as `user`) borrowed a connection at `now` (performance.now(), read by the caller anyway): ask again when due. */
  borrowed(user: string, now: number): void {
    if (this.refreshing || now < this.due) return;
    this.refreshing = true;
    this.o.verifiers
      .get(this.project, user, AbortSignal.timeout(10_000))
      .then(
        (answer) => this.told(answer.storedCode),
        // Kept as it was: like the accounts, the last answer stands while no new one comes.
        (err: unknown) => this.o.logger.debug({ err, project: this.project }, 'could not refresh the stored code that pins'),
      )
      .finally(() => {
        this.refreshing = false;
        this.due = performance.now() + this.o.refreshMs;
      });
  }
}

export class StoredCodeRegistry {
  private readonly projects = new Map<string, ProjectStoredCode>();
  private readonly o: Required<StoredCodeOptions>;

  constructor(o: StoredCodeOptions) {
    this.o = { refreshMs: 5_000, maxIdle: 10_000, ...o };
  }

  /** A session of `project` starts relaying, its login told `code`; leave() when it ends. */
  join(project: string, code: StoredCode | undefined): ProjectStoredCode {
    let p = this.projects.get(project);
    if (!p) {
      this.evictIdle();
      this.projects.set(project, (p = new ProjectStoredCode(project, this.o)));
    }
    p.sessions++;
    p.told(code);
    return p;
  }

  leave(p: ProjectStoredCode): void {
    p.sessions--;
  }

  /** Projects with no session go when too many are kept, in the order they were first seen. */
  private evictIdle(): void {
    if (this.projects.size < this.o.maxIdle) return;
    for (const [name, p] of this.projects) {
      if (p.sessions === 0) this.projects.delete(name);
      if (this.projects.size < this.o.maxIdle / 2) return;
    }
  }
}
