// Stop everything once on SIGINT/SIGTERM; a second signal forces the exit.
import type { Logger } from 'pino';

/**
 * Ctrl-C under `npm start` arrives twice at once: from the terminal to the whole
 * process group, and again forwarded by npm. Only a signal this much later is a
 * person insisting.
 */
const REPEAT_WINDOW_MS = 1_000;

/** `force` runs before the exit a second signal makes (a primary kills its workers there). */
export function onShutdown(log: Logger, stop: (signal: string) => Promise<void>, force?: () => void): void {
  let stoppingSince = 0;
  const handler = (signal: NodeJS.Signals) => {
    if (stoppingSince > 0) {
      if (Date.now() - stoppingSince < REPEAT_WINDOW_MS) return;
      log.warn({ signal }, 'second signal: exiting now');
      force?.();
      process.exit(1);
    }
    stoppingSince = Date.now();
    log.info({ signal }, 'shutting down');
    stop(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
