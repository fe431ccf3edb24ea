import { pino, type Logger } from 'pino';

/** JSON lines on stdout; auth data is redacted wherever it might appear. */
export function createLogger(level: string, name: string): Logger {
  return pino({
    name,
    level,
    redact: { paths: ['password', '*.password', 'token', '*.token', 'authResponse', '*.authResponse'], censor: '[redacted]' },
  });
}
