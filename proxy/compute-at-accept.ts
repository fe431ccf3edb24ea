// Passthrough logins whose compute is known before the client says who it is (a
// static backend, or a fixed project whose address is cached): the proxy connects
// when the client does, as a TCP proxy would, and greets the client with the
// compute's own scramble. The client's answer then goes to the compute as it is,
// with no auth switch and no second round trip (passthrough-auth.ts).
import { NATIVE_PASSWORD_PLUGIN, SCRAMBLE_LENGTH } from '../protocol/index.js';
import type { BackendAddress } from '../backend/address.js';
import { connectBackend, type BackendConnection } from '../backend/connect.js';
import { ChannelClosedError } from '../socket/packet-channel.js';
import { STATIC_PROJECT } from './routing.js';
import type { SessionContext } from './session-context.js';
import { PHASE } from './metrics.js';


/**
 * A compute connection opened at accept, or the failure of opening it. Until the
 * login takes it, nothing counts it: a client that leaves or sends nothing has cost
 * the compute a connect and a greeting, and the proxy's metrics nothing.
 */
export class ComputeAtAccept {
  private constructor(
    readonly addr: BackendAddress,
    private conn: BackendConnection | null,
    private failure: unknown,
    private readonly connectSeconds: number,
  ) {}

  /**
   * Connects when the session may (a passthrough proxy with connect-at-accept on, the
   * project fixed, its address known, no limit that would refuse the client); null
   * when it may not, and the login connects after the handshake as before. The client
   * waits for its greeting meanwhile: a compute that does not answer is reported after
   * the handshake, as it would be without this (see take()). Null at once, not a
   * promise of it: most sessions (every verified one) never connect here.
   */
  static open(ctx: SessionContext): Promise<ComputeAtAccept> | null {
    const { cfg } = ctx;
    if (!cfg.connectAtAccept || cfg.verifiers) return null;
    const project = cfg.routing.fixedProject;
    const key = project ?? (cfg.routing.projectOptional ? STATIC_PROJECT : undefined);
    const addr = key === undefined ? undefined : cfg.resolver.cached?.(key);
    if (!addr || !cfg.limits.mayAdmit(key!, project, ctx.clientAddress)) return null;
    return ComputeAtAccept.connect(ctx, addr);
  }

  private static async connect(ctx: SessionContext, addr: BackendAddress): Promise<ComputeAtAccept> {
    const { cfg } = ctx;
    const started = performance.now();
    let early: ComputeAtAccept;
    try {
      const conn = await connectBackend(addr, cfg.connectTimeoutMs);
      early = new ComputeAtAccept(addr, conn, null, (performance.now() - started) / 1000);
    } catch (err) {
      early = new ComputeAtAccept(addr, null, err, 0);
    }
    if (ctx.abort.aborted) {
      // The client left (or the proxy is draining) while the compute answered.
      early.close();
      throw new ChannelClosedError('client');
    }
    if (early.conn) cfg.profile.learn(early.conn.greeting);
    return early;
  }

  /** The scramble to greet the client with: the compute's, when its plugin is one the proxy's greeting names. */
  get scramble(): Buffer | undefined {
    const g = this.conn?.greeting;
    return g && g.authPluginName === NATIVE_PASSWORD_PLUGIN && g.scramble.length === SCRAMBLE_LENGTH ? g.scramble : undefined;
  }

  /**
   * The connection for a login that answered `greeted`, when it is still open and its
   * scramble is that one: from here on it is the session's, counted as a connect to a
   * known address. Else null, and the login connects (and switches) as before.
   */
  takeGreeted(ctx: SessionContext, greeted: Buffer): BackendConnection | null {
    const conn = this.conn;
    if (!conn || conn.channel.ended || !conn.greeting.scramble.equals(greeted)) return null;
    this.conn = null;
    const { metrics } = ctx.cfg;
    metrics.pending.wakesOk.n++;
    metrics.connectPhase.observe(PHASE.wake, 0);
    metrics.connectPhase.observe(PHASE.backendConnect, this.connectSeconds);
    return conn;
  }

  /**
   * The login's first connect attempt to `addr`: the connect made at accept when it
   * failed (so a compute that is down costs no extra attempt and gets the client the
   * error it got before), or when it is open; null to connect anew.
   */
  take(addr: BackendAddress): Promise<BackendConnection> | null {
    if (addr.host !== this.addr.host || addr.port !== this.addr.port) return null;
    const { conn, failure } = this;
    if (failure !== null) {
      this.failure = null;
      return Promise.reject(failure);
    }
    if (!conn || conn.channel.ended) return null;
    this.conn = null;
    return Promise.resolve(conn);
  }

  /** Closes the connection unless a login took it. */
  close(): void {
    this.conn?.socket.destroy();
    this.conn = null;
  }
}
