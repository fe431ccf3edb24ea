// Logs: one JSON object a line (pino) for machines, or short readable lines
// (pino-pretty) for a person at a terminal. pino-pretty is imported only when it is
// chosen, so `--help` and the JSON path never load it.
//
// Keys are never repeated within a line: pino writes a child's bindings after its
// parent's without merging them, so each logger binds `component` at most once
// (below a root logger named for its part: `wake-proxy`, `wake-proxy-control-plane`).
import { destination, pino, type DestinationStream, type Logger } from 'pino';

export type LogFormat = 'auto' | 'json' | 'pretty';

/** Auth data is redacted wherever it might appear. */
const REDACT = { paths: ['password', '*.password', 'token', '*.token', 'authResponse', '*.authResponse'], censor: '[redacted]' };

/** Root loggers, one per part of the system (their `name`), writing to one destination. */
export async function createLoggers(level: string, format: LogFormat): Promise<(name: string) => Logger> {
  const out = await destinationFor(format);
  return (name) => pino({ name, level, redact: REDACT }, out);
}

export async function createLogger(level: string, name: string, format: LogFormat): Promise<Logger> {
  return (await createLoggers(level, format))(name);
}

export function isPretty(format: LogFormat): boolean {
  return format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true);
}

async function destinationFor(format: LogFormat): Promise<DestinationStream> {
  // Synchronous, as pino's own default: nothing is lost when the process exits.
  if (!isPretty(format)) return destination({ dest: 1, sync: true });
  const { default: pretty } = await import('pino-pretty');
  return pretty({
    destination: 1,
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,component',
    messageFormat: '{if component}{component}: {end}{msg}',
    singleLine: true,
  });
}
