// Passthrough authentication: the compute judges the password, the proxy
// never sees one. The client is switched to the compute's own scramble, then
// every further auth packet (caching_sha2 and ed25519 round trips included)
// is relayed with sequence ids shifted until the compute says OK or ERR.
import {
  CLIENT_CONNECT_WITH_DB,
  ERR_HEADER,
  OK_HEADER,
  writeAuthSwitchRequest,
  writeHandshakeResponse,
  type HandshakeResponse,
  type Packet,
} from '../protocol/index.js';
import { negotiateBackendCapabilities } from './greeting-profile.js';
import type { BackendConnection } from './backend-connect.js';
import type { PacketChannel } from './packet-channel.js';
import type { Route } from './routing.js';

export interface AuthOutcome {
  /** The compute's final packet (OK or ERR), already renumbered for the client. */
  final: Packet;
  ok: boolean;
}

const NUL = Buffer.alloc(1);

export async function authenticatePassthrough(
  client: PacketChannel,
  hello: HandshakeResponse,
  route: Route,
  backend: BackendConnection,
  timeoutMs: number,
): Promise<AuthOutcome> {
  const bg = backend.greeting;
  client.write(
    writeAuthSwitchRequest({ pluginName: bg.authPluginName, pluginData: Buffer.concat([bg.scramble, NUL]) }),
    client.nextSequenceId,
  );
  const answer = await client.read(timeoutMs, 'auth switch response');
  backend.channel.write(
    writeHandshakeResponse({
      ...hello,
      capabilities: withDatabaseFlag(negotiateBackendCapabilities(hello.capabilities, bg.capabilities), route.database),
      mariadbCapabilities: hello.mariadbCapabilities & bg.mariadbCapabilities,
      user: route.backendUser,
      database: route.database,
      authResponse: answer.payload,
      authPluginName: bg.authPluginName,
    }),
    1,
  );
  // The client is two packets ahead of the compute (the auth switch and its answer).
  const shift = (answer.sequenceId - 1) & 0xff;
  return relayUntilVerdict(client, backend.channel, shift, timeoutMs);
}

function relayUntilVerdict(
  client: PacketChannel,
  backend: PacketChannel,
  shift: number,
  timeoutMs: number,
): Promise<AuthOutcome> {
  return new Promise<AuthOutcome>((resolve, reject) => {
    const finish = (err: Error | null, outcome?: AuthOutcome) => {
      clearTimeout(timer);
      client.listen(null);
      client.onFailure(null);
      if (err) reject(err);
      else resolve(outcome!);
    };
    const timer = setTimeout(
      () => finish(new Error(`authentication did not finish within ${timeoutMs} ms`)),
      timeoutMs,
    );
    client.onFailure((err) => finish(err));
    client.listen((p) => backend.write(p.payload, (p.sequenceId - shift) & 0xff));
    const next = (): void => {
      backend.read(0, 'auth reply').then((p) => {
        const renumbered = { sequenceId: (p.sequenceId + shift) & 0xff, payload: p.payload };
        // Only 0x00 ends authentication well: 0xfe here is an auth switch, not an EOF-style OK.
        if (p.payload[0] === OK_HEADER) return finish(null, { final: renumbered, ok: true });
        if (p.payload[0] === ERR_HEADER) return finish(null, { final: renumbered, ok: false });
        client.write(renumbered.payload, renumbered.sequenceId);
        next();
      }, (err: Error) => finish(err));
    };
    next();
  });
}

/** The routed database may differ from the client's (database routing strips the project). */
function withDatabaseFlag(capabilities: number, database: string | null): number {
  return database ? (capabilities | CLIENT_CONNECT_WITH_DB) >>> 0 : (capabilities & ~CLIENT_CONNECT_WITH_DB) >>> 0;
}
