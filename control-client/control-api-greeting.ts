// The proxy's side of GET /api/v1/greeting: the greeting of the compute a control plane
// last started (control-plane/compute-greeting.ts), for a proxy that has met no compute
// yet. Checked as anything read from another process is (backend/greeting-facts.ts).
import { request } from 'undici';
import { parseGreetingFacts, type GreetingFacts } from '../backend/greeting-facts.js';
import { ControlUrls } from './control-urls.js';

export interface ControlApiGreetingOptions {
  /** One URL, or several control-plane replicas: the call goes to the first that answers. */
  url: string | readonly string[];
  token?: string;
  /** Bound on the call; default 2000 ms. */
  timeoutMs?: number;
}

/** The facts, or undefined when the control plane has started no compute yet (404); throws on anything else. */
export function createControlApiGreeting(o: ControlApiGreetingOptions): () => Promise<GreetingFacts | undefined> {
  const urls = new ControlUrls(o.url);
  const headers: Record<string, string> = {};
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  return async () => {
    const signal = AbortSignal.timeout(o.timeoutMs ?? 2_000);
    const res = await urls.first((base) => request(`${base}/api/v1/greeting`, { headers, signal }), signal);
    const text = await res.body.text();
    if (res.statusCode === 404) return undefined;
    if (res.statusCode !== 200) throw new Error(`control API answered ${res.statusCode} to GET /api/v1/greeting`);
    return parseGreetingFacts(text);
  };
}
