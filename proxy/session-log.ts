// A session's log lines carry its connection id, client, project and user.
// Plain fields merged per line instead of pino child loggers: a child costs
// memory for the whole session and CPU at every connect, and sessions log only
// a few lines each.
import type { Logger } from 'pino';

export class SessionLog {
  constructor(
    private readonly root: Logger,
    private fields: Record<string, unknown>,
  ) {}

  /** Add fields (project, user) to every later line. */
  bind(more: Record<string, unknown>): void {
    this.fields = { ...this.fields, ...more };
  }

  debug(obj: Record<string, unknown>, msg: string): void {
    if (this.root.isLevelEnabled('debug')) this.root.debug({ ...this.fields, ...obj }, msg);
  }

  info(obj: Record<string, unknown>, msg: string): void {
    if (this.root.isLevelEnabled('info')) this.root.info({ ...this.fields, ...obj }, msg);
  }

  warn(obj: Record<string, unknown>, msg: string): void {
    this.root.warn({ ...this.fields, ...obj }, msg);
  }

  error(obj: Record<string, unknown>, msg: string): void {
    this.root.error({ ...this.fields, ...obj }, msg);
  }
}
