// A session's log lines carry its connection id, client, project and user.
// Plain fields merged per line instead of pino child loggers: a child costs
// memory for the whole session and CPU at every connect, and sessions log only
// a few lines each.
import type { Logger } from 'pino';

export class SessionLog {
  // Bound at login, merged only into lines actually written: a held client keeps two references, not a merged object.
  private project: string | undefined = undefined;
  private user: string | undefined = undefined;
  private tls = false;

  constructor(
    private readonly root: Logger,
    private readonly fields: Record<string, unknown>,
  ) {}

  /** Add the project, the user and whether the client uses TLS to every later line. */
  bindLogin(project: string | undefined, user: string, tls: boolean): void {
    this.project = project;
    this.user = user;
    this.tls = tls;
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
    if (this.user === undefined) return { ...this.fields, ...obj };
    return { ...this.fields, project: this.project, user: this.user, ...(this.tls ? { tls: true } : {}), ...obj };
  }
}
