// Passthrough authentication: the compute judges the password, the proxy
// never sees one. A client greeted with the compute's own scramble (connected
// at accept) has already answered it: its handshake goes on as it is, as
// through a TCP proxy. Any other is first switched to the compute's scramble.
// Then every further auth packet (the compute's switch to the account's plugin,
// caching_sha2 and ed25519 round trips) is relayed with sequence ids shifted
// until the compute says OK or ERR.
import {
  CLIENT_CONNECT_WITH_DB,
  CLIENT_PLUGIN_AUTH,
  CLIENT_SSL,
  ERR_HEADER,
  OK_HEADER,
  writeAuthSwitchRequest,
  writeHandshakeResponseAs,
  type HandshakeResponse,
  type Packet,
} from '../protocol/index.js';
import { negotiateBackendCapabilities } from '../backend/capabilities.js';
import { secureBackend, type BackendConnection, type BackendTlsOptions } from '../backend/connect.js';
import { ChannelClosedError, type PacketChannel } from '../socket/packet-channel.js';
import { authModeUnsupported } from './client-error.js';
import type { Route } from './routing.js';

export interface AuthOutcome {
  /** The compute's final packet (OK or ERR), already renumbered for the client. */
  final: Packet;
  ok: boolean;
  /** The connection as authenticated: upgraded to TLS when asked. */
  backend: BackendConnection;
}

const NUL = Buffer.alloc(1);

type Verdict = Omit<AuthOutcome, 'backend'>;

export async function authenticatePassthrough(
  client: PacketChannel,
  hello: HandshakeResponse,
  route: Route,
  plain: BackendConnection,
  /** The scramble the client was greeted with. */
  greeted: Buffer,
  timeoutMs: number,
  tls?: BackendTlsOptions,
): Promise<AuthOutcome> {
  const bg = plain.greeting;
  const login = {
    capabilities: withDatabaseFlag(negotiateBackendCapabilities(hello.capabilities, bg.capabilities), route.database),
    mariadbCapabilities: hello.mariadbCapabilities & bg.mariadbCapabilities,
    charset: hello.charset,
  };
  const backend = tls ? await secureBackend(plain, tls, login, timeoutMs) : plain;
  // The client answered this compute's own scramble (the scramble stays across a TLS upgrade on either hop).
  const answered = bg.scramble.equals(greeted);
  let answer: Packet;
  if (answered) {
    answer = { payload: hello.authResponse, sequenceId: (client.nextSequenceId - 1) & 0xff };
  } else if ((hello.capabilities & CLIENT_PLUGIN_AUTH) === 0) {
    // Its answer was to another scramble, and it cannot be given this one.
    throw authModeUnsupported();
  } else {
    client.write(
      writeAuthSwitchRequest({ pluginName: bg.authPluginName, pluginData: Buffer.concat([bg.scramble, NUL]) }),
      client.nextSequenceId,
    );
    answer = await client.read(timeoutMs, 'auth switch response');
  }
  backend.channel.write(
    // The changes written out, not spread from `login`: a spread with fields after it cost
    // about 4 % of a passthrough login's JavaScript.
    writeHandshakeResponseAs(hello, {
      capabilities: (login.capabilities | (backend.tls ? CLIENT_SSL : 0)) >>> 0,
      mariadbCapabilities: login.mariadbCapabilities,
      charset: login.charset,
      user: route.backendUser,
      database: route.database,
      authResponse: answer.payload,
      // An answer to the greeting names the client's plugin: the compute switches a client whose plugin differs, as directly.
      authPluginName: answered ? hello.authPluginName : bg.authPluginName,
    }),
    backend.channel.nextSequenceId,
  );
  // Sequence ids: the client is ahead of the compute by its own SSLRequest and the auth
  // switch and its answer (each if any), behind by the compute's SSLRequest (if any).
  const shift = (answer.sequenceId - backend.channel.nextSequenceId + 1) & 0xff;
  const { final, ok } = await relayUntilVerdict(client, backend.channel, shift, timeoutMs);
  return { final, ok, backend };
}

function relayUntilVerdict(
  client: PacketChannel,
  backend: PacketChannel,
  shift: number,
  timeoutMs: number,
): Promise<Verdict> {
  return new Promise<Verdict>((resolve, reject) => {
    const stop = () => {
      clearTimeout(timer);
      client.listen(null);
      client.onFailure(null);
    };
    const fail = (err: Error) => {
      stop();
      reject(err);
    };
    const finish = (verdict: Verdict) => {
      stop();
      resolve(verdict);
    };
    const timer = setTimeout(() => fail(new Error(`authentication did not finish within ${timeoutMs} ms`)), timeoutMs);
    /** The compute asked the client for more, and the client has not sent it yet. */
    let awaitingClient = false;
    // A client that half-closes after its last auth packet still gets the compute's verdict, as from
    // MariaDB; one that half-closes when asked for more cannot answer, so the login ends (MariaDB closes too),
    // whether its FIN came before the compute's question or after it.
    client.onFailure((err) => {
      if (!(err instanceof ChannelClosedError && err.halfClosed) || awaitingClient) fail(err);
    });
    // The client's packets go on only once the compute has asked for more: what it sent
    // after its answer (a statement pipelined behind its login) waits for the relay.
    const forward = (p: Packet) => {
      awaitingClient = false;
      backend.write(p.payload, (p.sequenceId - shift) & 0xff);
    };
    let asked = false;
    const next = (): void => {
      backend.read(0, 'auth reply').then((p) => {
        const renumbered = { sequenceId: (p.sequenceId + shift) & 0xff, payload: p.payload };
        // Only 0x00 ends authentication well: 0xfe here is an auth switch, not an EOF-style OK.
        if (p.payload[0] === OK_HEADER) return finish({ final: renumbered, ok: true });
        if (p.payload[0] === ERR_HEADER) return finish({ final: renumbered, ok: false });
        client.write(renumbered.payload, renumbered.sequenceId);
        awaitingClient = true;
        if (!asked) {
          asked = true;
          client.listen(forward);
        }
        if (client.ended) return fail(new ChannelClosedError('client', undefined, true));
        next();
      }, fail);
    };
    next();
  });
}

/** The routed database may differ from the client's (database routing strips the project). */
function withDatabaseFlag(capabilities: number, database: string | null): number {
  return database ? (capabilities | CLIENT_CONNECT_WITH_DB) >>> 0 : (capabilities & ~CLIENT_CONNECT_WITH_DB) >>> 0;
}
