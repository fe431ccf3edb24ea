// Logs: one JSON object a line (pino) for machines, or short readable lines
// (pino-pretty) for a person at a terminal. pino-pretty is imported only when it is
// chosen, so `--help` and the JSON path never load it.
//
// Keys are never repeated within a line: pino writes a child's bindings after its
// parent's without merging them, so each logger binds `component` at most once
// (below a root logger named for its part: `wake-proxy`, `wake-proxy-control-plane`).
import { destination, pino, type DestinationStream, type Logger } from 'pino';
import { BatchedLines, PIPE_BUF } from './batched-lines.js';

export type LogFormat = 'auto' | 'json' | 'pretty';

/**
 * Auth data is redacted at the top of a line and in a logged error. Named
 * paths, not wildcards: a wildcard makes pino walk every field of every line,
 * a third of what a session's line costs.
 */
const SECRETS = ['password', 'token', 'authResponse'];
const REDACT = { paths: [...SECRETS, ...SECRETS.map((k) => `err.${k}`)], censor: '[redacted]' };

export interface LoggerOptions {
  /**
   * Other processes write to the same stdout (proxy workers): every write stays
   * within PIPE_BUF, so lines of different processes never cut into each other.
   */
  sharedStdout?: boolean;
}

/** Root loggers, one per part of the system (their `name`), writing to one destination. */
export async function createLoggers(level: string, format: LogFormat, o: LoggerOptions = {}): Promise<(name: string) => Logger> {
  const out = await destinationFor(format, o);
  return (name) => pino({ name, level, redact: REDACT }, out);
}

export async function createLogger(level: string, name: string, format: LogFormat, o: LoggerOptions = {}): Promise<Logger> {
  return (await createLoggers(level, format, o))(name);
}

export function isPretty(format: LogFormat): boolean {
  return format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true);
}

async function destinationFor(format: LogFormat, o: LoggerOptions): Promise<DestinationStream> {
  if (!isPretty(format)) {
    return new BatchedLines(destination({ dest: 1, sync: true }), o.sharedStdout ? { maxWriteBytes: PIPE_BUF } : {});
  }
  const { default: pretty } = await import('pino-pretty');
  return pretty({
    destination: 1,
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    // Workers tell their lines apart by pid.
    ignore: o.sharedStdout ? 'hostname,component' : 'pid,hostname,component',
    messageFormat: '{if component}{component}: {end}{msg}',
    singleLine: true,
  });
}
