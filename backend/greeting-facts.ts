// The part of a compute's greeting that describes the server rather than one
// connection (no scramble, no thread id, no status), as proxies sharing Redis pass it
// on to one another (proxy/shared-greeting.ts; docs/activity-keys.md, "The shared
// greeting") and as the control plane serves it (control-plane/compute-greeting.ts).
//
// What a proxy reads back was written by another process, maybe another version of
// it, maybe by hand: it greets clients with it, so every field is checked and anything
// unexpected refuses the whole value. The proxy then keeps its built-in profile, never
// a greeting made of the parts that happened to parse.
import {
  CLIENT_MYSQL,
  CLIENT_PLUGIN_AUTH,
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
  type Greeting,
} from '../protocol/index.js';
import { PER_HOP_CAPABILITIES } from './capabilities.js';

export type GreetingFacts = Pick<Greeting, 'serverVersion' | 'capabilities' | 'mariadbCapabilities' | 'charset'>;

/** What the proxy's own handshake with clients relies on: a greeting without them is not a compute's. */
const REQUIRED_CAPABILITIES = (CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH) >>> 0;
/** A version string goes out NUL-terminated in one packet; MariaDB's own are under 60 bytes. */
const MAX_VERSION_LENGTH = 255;
const FIELDS = ['serverVersion', 'capabilities', 'mariadbCapabilities', 'charset', 'at'];

/**
 * The shared facts of `g`. Per-hop capabilities (TLS, compression) say how this proxy
 * reached the compute, not what the compute is; extended capabilities are kept whole,
 * as each reader withholds what its own pool mode cannot honour (GreetingProfile).
 */
export function greetingFacts(g: GreetingFacts): GreetingFacts {
  return {
    serverVersion: g.serverVersion,
    capabilities: (g.capabilities & ~PER_HOP_CAPABILITIES) >>> 0,
    mariadbCapabilities: g.mariadbCapabilities >>> 0,
    charset: g.charset,
  };
}

export function sameFacts(a: GreetingFacts, b: GreetingFacts): boolean {
  return (
    a.serverVersion === b.serverVersion &&
    a.capabilities === b.capabilities &&
    a.mariadbCapabilities === b.mariadbCapabilities &&
    a.charset === b.charset
  );
}

/** The JSON stored in Redis; `at` is the writer's clock (Unix ms), for whoever looks. */
export function formatGreetingFacts(f: GreetingFacts, at: number): string {
  return JSON.stringify({
    serverVersion: f.serverVersion,
    capabilities: f.capabilities,
    mariadbCapabilities: f.mariadbCapabilities,
    charset: f.charset,
    at,
  });
}

export class GreetingFactsError extends Error {}

/** Facts from stored JSON; throws GreetingFactsError naming the first thing that is not as written. */
export function parseGreetingFacts(text: string): GreetingFacts {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new GreetingFactsError('not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new GreetingFactsError('not a JSON object');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!FIELDS.includes(k)) throw new GreetingFactsError(`unknown field '${k.slice(0, 40)}'`);
  }
  const facts = {
    serverVersion: serverVersion(o.serverVersion),
    capabilities: uint32(o.capabilities, 'capabilities'),
    mariadbCapabilities: uint32(o.mariadbCapabilities, 'mariadbCapabilities'),
    charset: integerIn(o.charset, 'charset', 1, 255),
  };
  integerIn(o.at, 'at', 0, Number.MAX_SAFE_INTEGER);
  checkFacts(facts);
  return facts;
}

/** What a reader would refuse in facts that parsed: a writer checks its own before storing them. */
export function checkFacts(f: GreetingFacts): void {
  serverVersion(f.serverVersion);
  if ((f.capabilities & REQUIRED_CAPABILITIES) !== REQUIRED_CAPABILITIES) {
    throw new GreetingFactsError('capabilities lack CLIENT_PROTOCOL_41, CLIENT_SECURE_CONNECTION or CLIENT_PLUGIN_AUTH');
  }
  if (f.capabilities & PER_HOP_CAPABILITIES) throw new GreetingFactsError('capabilities include per-hop ones (TLS, compression)');
  // A server that sets CLIENT_MYSQL sends no extended capabilities (parseGreeting reads them as 0).
  if (f.capabilities & CLIENT_MYSQL && f.mariadbCapabilities !== 0) {
    throw new GreetingFactsError('MariaDB extended capabilities with CLIENT_MYSQL set');
  }
  integerIn(f.charset, 'charset', 1, 255);
}

function serverVersion(v: unknown): string {
  if (typeof v !== 'string') throw new GreetingFactsError('serverVersion is not a string');
  if (v.length === 0 || v.length > MAX_VERSION_LENGTH) throw new GreetingFactsError(`serverVersion has ${v.length} characters`);
  // Printable ASCII and starting like a version: no NUL to cut the greeting short, nothing a log or driver would mangle.
  if (!/^[0-9]+\.[0-9]+\.[0-9]+[\x20-\x7e]*$/.test(v)) throw new GreetingFactsError('serverVersion is not a printable version string');
  return v;
}

function uint32(v: unknown, name: string): number {
  return integerIn(v, name, 0, 0xffffffff);
}

function integerIn(v: unknown, name: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new GreetingFactsError(`${name} is not an integer from ${min} to ${max}`);
  }
  return v;
}
