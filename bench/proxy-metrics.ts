// What a bench reads from a proxy's admin HTTP (/metrics): the session pins of
// transaction pooling, by reason. A pin is a pooled session that keeps its compute
// connection, which is what the pooled scenarios want to see at 0.
import { request } from 'undici';

/** Counts by label value. */
export type Counts = Record<string, number>;

/** wakeproxy_pool_session_pins_total by reason, from the proxy's /metrics. */
export async function readPins(adminPort: number): Promise<Counts> {
  const res = await request(`http://127.0.0.1:${adminPort}/metrics`);
  const text = await res.body.text();
  const out: Counts = {};
  for (const m of text.matchAll(/^wakeproxy_pool_session_pins_total\{reason="([^"]+)"\} (\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

export const totalOf = (c: Counts): number => Object.values(c).reduce((s, v) => s + v, 0);

/** `after` less `before`, the reasons that moved only. */
export function countsSince(after: Counts, before: Counts): Counts {
  const out: Counts = {};
  for (const [k, v] of Object.entries(after)) if (v > (before[k] ?? 0)) out[k] = v - (before[k] ?? 0);
  return out;
}

/** "0", or "reason n, ..." */
export const showCounts = (c: Counts): string => (totalOf(c) === 0 ? '0' : Object.entries(c).map(([k, v]) => `${k} ${v}`).join(', '));
