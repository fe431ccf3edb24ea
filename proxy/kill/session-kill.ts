// One session's side of KILL: the hook its relay asks about the KILLs it sends, the
// target other sessions' KILLs find in the registry, and stopping its statement when
// it leaves in the middle of one.
import type { BackendAddress } from '../../backend/address.js';
import type { BackendTlsOptions } from '../../backend/connect.js';
import { withOwnConnection, type OwnAccount } from '../../backend/own-connection.js';
import type { KillAction, KillHook, KillStatement } from '../../relay/intercepted-command.js';
import type { SessionContext } from '../session-context.js';
import type { PooledBackend } from '../../pool/pooled-backend.js';
import { holdsConnectionAdmin, killQuery } from './compute-checks.js';
import { decideKill, type KillDeps, type Killer } from './kill-decision.js';
import type { KillPeers } from './kill-peers.js';
import { computeKey, type KillTarget, type SessionRegistry } from './session-registry.js';

/** The proxy's KILL machinery, shared by its sessions. */
export interface KillSupport {
  registry: SessionRegistry;
  /** Other proxies sharing Redis; null without. */
  peers: KillPeers | null;
  /** What KILL decisions look sessions up in (the registry, the peers). */
  deps: KillDeps;
  /**
   * Stops a passthrough session's statement (the proxy cannot log in as its user):
   * the control plane's account, or an account given for a static backend. Without
   * it the compute connection is only closed, which the compute notices at its next
   * write or liveness check (SLEEP: every 5 s).
   */
  stopPassthrough?: (addr: BackendAddress, thread: number) => Promise<boolean>;
}

/** Who a session is to the compute. */
export interface SessionIdentity {
  pooled: boolean;
  /** The user name the compute knows it by. */
  user: string;
  /** A verified session's stage1 (latin1, see attach-backend.ts): the proxy logs in as it. Null for passthrough. */
  stage1: string | null;
}

/**
 * One session's side of KILL, in one object without closures (a held client should
 * cost little): the hook its relay asks about the KILLs its client sends, the target
 * other sessions' KILLs find in the registry, and the killer those KILLs are decided for.
 */
export class SessionKill implements KillHook, KillTarget, Killer {
  /**
   * The compute connection a pooled session holds now (transaction pooling changes it;
   * null between statements). A KILL aimed at it retires it: never lent on.
   */
  held: PooledBackend | null = null;
  readonly pooled: boolean;
  readonly user: string;
  private readonly stage1: string | null;

  constructor(
    private readonly ctx: SessionContext,
    who: SessionIdentity,
    /** Where the session's compute listens (transaction pooling: where it last borrowed). */
    public addr: BackendAddress,
    /** Pipe mode: the thread of the session's own compute connection; null when pooled. */
    private readonly pipeThread: number | null,
  ) {
    this.pooled = who.pooled;
    this.user = who.user;
    this.stage1 = who.stage1;
  }

  get id(): number {
    return this.ctx.id;
  }

  get compute(): string {
    return computeKey(this.addr);
  }

  aim(): number | null {
    if (this.pipeThread !== null) return this.pipeThread;
    const held = this.held;
    if (!held) return null;
    held.retire('a KILL named it');
    return held.threadId;
  }

  kill(statement: KillStatement): KillAction | Promise<KillAction> {
    return decideKill(statement, this, this.ctx.cfg.kill.deps);
  }

  end(): void {
    this.ctx.killed = true;
    this.ctx.socket.destroy();
  }

  async mayKillOthers(): Promise<boolean> {
    const account = this.ownAccount();
    if (!account) return false;
    const { connectTimeoutMs } = this.ctx.cfg;
    return withOwnConnection(this.addr, account, ownOptions(this.ctx), (t) => holdsConnectionAdmin(t, connectTimeoutMs));
  }

  /**
   * The client left while `thread` may be running its statement: stop it (KILL QUERY on
   * a connection of the proxy's own, as the session's user where the proxy holds its
   * credentials, else as stopPassthrough does). Bounded; never throws. The caller
   * closes the session's compute connection afterwards, with destroy(): a TLS close
   * alert left unread would make the compute think the client is still there.
   */
  async stopStatement(addr: BackendAddress, thread: number): Promise<void> {
    const { ctx } = this;
    const started = performance.now();
    const account = this.ownAccount();
    const stopPassthrough = ctx.cfg.kill.stopPassthrough;
    let stopped: boolean;
    try {
      if (account) stopped = await withOwnConnection(addr, account, ownOptions(ctx), (t) => killQuery(t, thread, ctx.cfg.connectTimeoutMs));
      else if (stopPassthrough) stopped = await stopPassthrough(addr, thread);
      else return;
    } catch (err) {
      ctx.log.warn({ thread, cause: (err as Error).message }, 'could not stop the statement of a client that left');
      return;
    }
    ctx.log.info({ thread, stopped, ms: Math.round(performance.now() - started) }, 'statement of a client that left stopped');
  }

  private ownAccount(): OwnAccount | null {
    return this.stage1 === null ? null : { user: this.user, stage1: Buffer.from(this.stage1, 'latin1') };
  }
}

function ownOptions(ctx: SessionContext) {
  return {
    timeoutMs: ctx.cfg.connectTimeoutMs,
    ...(ctx.cfg.backendTls ? { tls: ctx.cfg.backendTls } : {}),
  };
}

/** stopPassthrough with an account the operator gave the proxy (a static backend's --accounts-user). */
export function stopperWithAccount(account: OwnAccount, o: { timeoutMs: number; tls?: BackendTlsOptions }): (addr: BackendAddress, thread: number) => Promise<boolean> {
  return (addr, thread) => withOwnConnection(addr, account, o, (t) => killQuery(t, thread, o.timeoutMs));
}
