// What the proxy tells a client about "the server" before any compute is
// awake. It must promise only what the computes honour, so it starts from a
// MariaDB 10.11 greeting and then mirrors the computes it actually meets.
import { GreetingTemplate, MARIADB_CLIENT_CACHE_METADATA, SERVER_STATUS_AUTOCOMMIT, NATIVE_PASSWORD_PLUGIN, type Greeting } from '../protocol/index.js';
import { PER_HOP_CAPABILITIES } from '../backend/capabilities.js';
import { greetingFacts, type GreetingFacts } from '../backend/greeting-facts.js';

/** Told when the profile learns a greeting that differs from what it had (not at every login). */
export type GreetingChange = (facts: GreetingFacts) => void;

// Read off MariaDB 10.11's own greeting.
const MARIADB_10_11_CAPABILITIES = 0x81fff7fe;
const MARIADB_10_11_EXTENDED = 0x1d;
const MARIADB_10_11_CHARSET = 8;

export class GreetingProfile {
  serverVersion = '5.5.5-10.11.0-MariaDB-wake-proxy';
  capabilities = (MARIADB_10_11_CAPABILITIES & ~PER_HOP_CAPABILITIES) >>> 0;
  mariadbCapabilities = MARIADB_10_11_EXTENDED;
  charset = MARIADB_10_11_CHARSET;
  /** A compute's greeting has been learned: what the profile says is no longer the built-in guess. */
  learned = false;

  /**
   * `withheldMariadb`: extended capabilities never offered. Transaction pooling withholds
   * MARIADB_CLIENT_CACHE_METADATA: a compute skips an execute's column definitions when
   * they are what it last sent for that statement, but a statement pooled connections
   * share was last executed for someone else, and the client would decode its rows
   * with the metadata of its own prepare.
   */
  constructor(
    private readonly withheldMariadb = 0,
    private readonly changed?: GreetingChange,
  ) {
    this.mariadbCapabilities = (MARIADB_10_11_EXTENDED & ~withheldMariadb) >>> 0;
  }

  /** Greetings written once per set of extra capabilities, until learn() changes what they say. */
  private templates = new Map<number, GreetingTemplate>();

  /** Mirror a compute's greeting so the next clients are offered exactly what computes support. */
  learn(backend: GreetingFacts): void {
    this.learned = true;
    const capabilities = (backend.capabilities & ~PER_HOP_CAPABILITIES) >>> 0;
    const mariadbCapabilities = (backend.mariadbCapabilities & ~this.withheldMariadb) >>> 0;
    if (
      backend.serverVersion === this.serverVersion &&
      capabilities === this.capabilities &&
      mariadbCapabilities === this.mariadbCapabilities &&
      backend.charset === this.charset
    ) {
      return;
    }
    this.serverVersion = backend.serverVersion;
    this.capabilities = capabilities;
    this.mariadbCapabilities = mariadbCapabilities;
    this.charset = backend.charset;
    this.templates.clear();
    // Whole, before this profile withholds anything: another proxy may withhold less.
    this.changed?.(greetingFacts(backend));
  }

  /** The profile for a proxy in `poolMode`. */
  static forPoolMode(poolMode: string, changed?: GreetingChange): GreetingProfile {
    return new GreetingProfile(poolMode === 'transaction' ? MARIADB_CLIENT_CACHE_METADATA : 0, changed);
  }

  /** The greeting payload for one client: greeting(), written from a template. */
  greetingPayload(connectionId: number, scramble: Buffer, extraCapabilities = 0): Buffer {
    let template = this.templates.get(extraCapabilities);
    if (!template) {
      template = new GreetingTemplate(this.greeting(0, Buffer.alloc(scramble.length), extraCapabilities));
      this.templates.set(extraCapabilities, template);
    }
    return template.write(connectionId, scramble);
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
