// One always-on backend: no control plane, no wake.
import type { ComputeResolver } from './types.js';
import type { BackendAddress } from '../backend/address.js';

export function createStaticResolver(addr: BackendAddress): ComputeResolver {
  return {
    resolve: () => Promise.resolve(addr),
    cached: () => addr,
    invalidate: () => {},
    close: () => Promise.resolve(),
  };
}

/** Parse "host:port" (or "[v6]:port"); throws with the offending text. */
export function parseHostPort(text: string): BackendAddress {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port > 0 && port < 65536)) {
    throw new Error(`expected host:port, got '${text}'`);
  }
  return { host: m[1]!, port };
}
