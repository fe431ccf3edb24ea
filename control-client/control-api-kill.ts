// The proxy's side of POST /api/v1/compute/{id}/kill-query: when a passthrough
// client (whose password the proxy never had) leaves in the middle of a statement,
// the control plane stops it with its own account.
import { request } from 'undici';
import type { BackendAddress } from '../backend/address.js';
import { ControlUrls } from './control-urls.js';

export interface ControlApiKillOptions {
  /** One URL, or several control-plane replicas: the call goes to the first that answers. */
  url: string | readonly string[];
  token?: string;
  /** Bound on the call; default 6000 ms (the control plane's own KILL is bounded by 5 s). */
  timeoutMs?: number;
}

/** True when the control plane stopped the statement (false: gone already, or a compute it does not know). */
export function createControlApiKill(o: ControlApiKillOptions): (addr: BackendAddress, thread: number) => Promise<boolean> {
  const urls = new ControlUrls(o.url);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  return async (addr, thread) => {
    if (!addr.computeId) return false;
    const signal = AbortSignal.timeout(o.timeoutMs ?? 6_000);
    const path = `/api/v1/compute/${encodeURIComponent(addr.computeId)}/kill-query`;
    const res = await urls.first((base) => request(`${base}${path}`, { method: 'POST', headers, body: JSON.stringify({ thread }), signal }), signal);
    const body = (await res.body.json().catch(() => ({}))) as { killed?: unknown; error?: { message?: string } };
    if (res.statusCode !== 200) throw new Error(`control API answered ${res.statusCode}: ${body.error?.message ?? 'no message'}`);
    return body.killed === true;
  };
}
