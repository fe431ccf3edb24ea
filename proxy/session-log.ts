// A session's log lines carry its connection id, client, project and user.
// Plain fields merged per line instead of pino child loggers: a child costs
// memory for the whole session and CPU at every connect, and sessions log only
// a few lines each.
import type { Logger } from 'pino';

export class SessionLog {
  /** Fields bound later (project, user), merged only into lines actually written. */
  private bound: Record<string, unknown> | null = null;

  constructor(
    private readonly root: Logger,
    private readonly fields: Record<string, unknown>,
  ) {}

  /** Add fields (project, user) to every later line. */
  bind(more: Record<string, unknown>): void {
    this.bound = this.bound ? { ...this.bound, ...more } : more;
  }

  debug(obj: Record<string, unknown>, msg: string): void {
    if (this.root.isLevelEnabled('debug')) this.root.debug(this.line(obj), msg);
  }

  info(obj: Record<string, unknown>, msg: string): void {
    if (this.root.isLevelEnabled('info')) this.root.info(this.line(obj), msg);
  }

  warn(obj: Record<string, unknown>, msg: string): void {
    this.root.warn(this.line(obj), msg);
  }

  error(obj: Record<string, unknown>, msg: string): void {
    this.root.error(this.line(obj), msg);
  }

  private line(obj: Record<string, unknown>): Record<string, unknown> {
    return this.bound ? { ...this.fields, ...this.bound, ...obj } : { ...this.fields, ...obj };
  }
}
