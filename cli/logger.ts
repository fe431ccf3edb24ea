// Logs: one JSON object a line (pino) for machines, or short readable lines
// (pino-pretty) for a person at a terminal. pino-pretty is imported only when it is
// chosen, so `--help` and the JSON path never load it.
//
// Keys are never repeated within a line: pino writes a child's bindings after its
// parent's without merging them, so each logger binds `component` at most once
// (below a root logger named for its part: `wake-proxy`, `wake-proxy-control-plane`).
import { destination, pino, type DestinationStream, type Logger } from 'pino';
import { BatchedLines } from './batched-lines.js';

export type LogFormat = 'auto' | 'json' | 'pretty';

/**
 * Auth data is redacted at the top of a line and in a logged error. Named
 * paths, not wildcards: a wildcard makes pino walk every field of every line,
 * a third of what a session's line costs.
 */
const SECRETS = ['password', 'token', 'authResponse'];
const REDACT = { paths: [...SECRETS, ...SECRETS.map((k) => `err.${k}`)], censor: '[redacted]' };

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
  if (!isPretty(format)) return new BatchedLines(destination({ dest: 1, sync: true }));
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
