// A session's log lines carry its connection id, client, project and user.
// Plain fields merged per line instead of pino child loggers: a child costs
// memory for the whole session and CPU at every connect, and sessions log only
// a few lines each. Merged into an object of one fixed shape, not by spreading:
// a line built by spreads cost pino four times as much to write (13 against
// 3.5 µs), a cost every connection pays once.
import type { Logger } from 'pino';

export class SessionLog {
  // Bound at login, merged only into lines actually written: a held client keeps two references, not a merged object.
  private project: string | undefined = undefined;
  private user: string | undefined = undefined;
  private tls = false;

  constructor(
    private readonly root: Logger,
    /** The connection id the client was given. */
    private readonly conn: number,
    /** Its address and port. */
    private readonly client: string,
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

  /** Fields left undefined are not written (pino skips them). */
  private line(obj: Record<string, unknown>): Record<string, unknown> {
    const line: Record<string, unknown> = {
      conn: this.conn,
      client: this.client,
      project: this.project,
      user: this.user,
      tls: this.tls ? true : undefined,
    };
    for (const key in obj) line[key] = obj[key];
    return line;
  }
}
