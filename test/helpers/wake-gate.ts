// A forwarder in front of the control API that holds one project's wakes until the test
// lets them through: a wake in flight for as long as a test needs one (startStack's
// `resolverUrl` points the proxy's resolver at it).
import { createServer, type Server } from 'node:http';
import { request } from 'undici';

export interface WakeGate {
  /** Where the resolver sends its requests. */
  url: string;
  /** Where they are forwarded: the control plane's URL, set once it is known. */
  target: { url: string };
  /** Wakes of the held project asked for so far. */
  readonly asked: number;
  /** Let the held wakes (and later ones) through. */
  release(): void;
  /** Hold the next wakes again, until the next release(). */
  hold(): void;
  close(): Promise<void>;
}

/** Forwards the control API, holding wakes of `held` (from the start) until release(). */
export async function startWakeGate(held: string): Promise<WakeGate> {
  const target = { url: '' };
  let asked = 0;
  let release!: () => void;
  let gate!: Promise<void>;
  const hold = () => {
    gate = new Promise<void>((r) => (release = r));
  };
  hold();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      try {
        if (req.url?.endsWith(`/projects/${held}/wake`)) {
          asked++;
          await gate;
        }
        const headers: Record<string, string> = {};
        for (const h of ['content-type', 'authorization']) if (typeof req.headers[h] === 'string') headers[h] = req.headers[h] as string;
        const body = Buffer.concat(chunks);
        const answer = await request(`${target.url}${req.url}`, { method: req.method as 'POST', headers, ...(body.length ? { body } : {}) });
        res.writeHead(answer.statusCode, { 'content-type': String(answer.headers['content-type'] ?? 'application/json') });
        res.end(Buffer.from(await answer.body.arrayBuffer()));
      } catch (err) {
        res.writeHead(502).end((err as Error).message);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    target,
    get asked() {
      return asked;
    },
    release: () => release(),
    hold,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
