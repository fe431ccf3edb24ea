// Child-process entry that runs a wake-proxy command (`proxy` or `dev`) exactly
// as the CLI does, in its own process so it never shares an event loop with a
// load generator. Over IPC it says when it is ready (or that its flags were
// rejected, e.g. a pool mode it does not have) and answers memory questions
// after a full GC, which the idle-clients scenario needs. Commands are imported
// lazily so `proxy` runs even while `dev`'s control plane is not there yet.
//
// argv: <command> [flags of that command...]; run with --expose-gc.

type HostMessage =
  | { type: 'ready' }
  | { type: 'rejected'; message: string }
  | { type: 'memory'; rss: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number };

function send(m: HostMessage): void {
  process.send?.(m);
}

async function main(): Promise<void> {
  const [command, ...argv] = process.argv.slice(2);
  const { ConfigError } = await import('../cli/options.js');
  try {
    if (command === 'proxy') {
      const { runProxyCommand } = await import('../cli/proxy-command.js');
      await runProxyCommand(argv, process.env);
    } else if (command === 'dev') {
      const { runDevCommand } = await import('../cli/dev-command.js');
      await runDevCommand(argv, process.env);
    } else {
      throw new Error(`proxy-host: unknown command '${command}'`);
    }
  } catch (err) {
    const message = err instanceof ConfigError ? err.problems.join('; ') : (err as Error).message;
    send({ type: 'rejected', message });
    process.exitCode = err instanceof ConfigError ? 2 : 1;
    process.disconnect?.();
    return;
  }
  send({ type: 'ready' });
  process.on('message', (m: { type?: string }) => {
    if (m?.type !== 'memory') return;
    const gc = (globalThis as { gc?: () => void }).gc;
    // Twice: the first pass may only queue finalizers that free more.
    gc?.();
    gc?.();
    // V8 hands the pages a GC freed back to the system on background threads, within
    // milliseconds: read RSS once that has happened, so it counts what is held.
    setTimeout(() => {
      const u = process.memoryUsage();
      send({ type: 'memory', rss: u.rss, heapUsed: u.heapUsed, heapTotal: u.heapTotal, external: u.external, arrayBuffers: u.arrayBuffers });
    }, RSS_SETTLE_MS);
  });
  // The parent going away (crash, SIGKILL) must not leave a proxy behind.
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}

const RSS_SETTLE_MS = 1_000;

void main();
