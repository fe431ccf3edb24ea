// What the proxy tells a client about "the server" before any compute is
// awake. It must promise only what the computes honour, so it starts from a
// MariaDB 10.11 greeting and then mirrors the computes it actually meets.
import { SERVER_STATUS_AUTOCOMMIT, NATIVE_PASSWORD_PLUGIN, type Greeting } from '../protocol/index.js';
import { PER_HOP_CAPABILITIES } from '../backend/capabilities.js';

// Read off MariaDB 10.11's own greeting.
const MARIADB_10_11_CAPABILITIES = 0x81fff7fe;
const MARIADB_10_11_EXTENDED = 0x1d;
const MARIADB_10_11_CHARSET = 8;

export class GreetingProfile {
  serverVersion = '5.5.5-10.11.0-MariaDB-wake-proxy';
  capabilities = (MARIADB_10_11_CAPABILITIES & ~PER_HOP_CAPABILITIES) >>> 0;
  mariadbCapabilities = MARIADB_10_11_EXTENDED;
  charset = MARIADB_10_11_CHARSET;

  /** Mirror a compute's greeting so the next clients are offered exactly what computes support. */
  learn(backend: Greeting): void {
    this.serverVersion = backend.serverVersion;
    this.capabilities = (backend.capabilities & ~PER_HOP_CAPABILITIES) >>> 0;
    this.mariadbCapabilities = backend.mariadbCapabilities;
    this.charset = backend.charset;
  }

  greeting(connectionId: number, scramble: Buffer, extraCapabilities = 0): Greeting {
    return {
      protocolVersion: 10,
      serverVersion: this.serverVersion,
      connectionId,
      scramble,
      capabilities: (this.capabilities | extraCapabilities) >>> 0,
      mariadbCapabilities: this.mariadbCapabilities,
      charset: this.charset,
      statusFlags: SERVER_STATUS_AUTOCOMMIT,
      authPluginName: NATIVE_PASSWORD_PLUGIN,
    };
  }
}
