// A session's log lines carry its connection id, client, project and user.
// Plain fields merged per line instead of pino child loggers: a child costs
// memory for the whole session and CPU at every connect, and sessions log only
// a few lines each. Merged into an object of one fixed shape, not by spreading:
// a line built by spreads cost pino four times as much to write (13 against
// 3.5 µs), a cost every connection pays once.
//
// The line every session ends with ("session closed") is written here, not by pino:
// with pino walking its fields the line cost a pooled connection about 16 µs of CPU
// in place (7 % of a transaction-mode login; about 6 µs now), several times what the
// same call takes in a loop, and 2.7 KB of garbage. It is the line pino would write
// (its level string, time, bindings and stream; a unit test compares the two), built
// in one template.
import { symbols, type Logger } from 'pino';

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

  /** The session's last line: what pino writes for `info({ ...its fields }, 'session closed')`. */
  closed(f: ClosedLine): void {
    const root = this.root as unknown as PinoInternals;
    if (!this.root.isLevelEnabled('info')) return;
    let line = `${root[symbols.lsCacheSym][INFO]}${root[symbols.timeSym]()}${root[symbols.chindingsSym]},"conn":${this.conn},"client":${str(this.client)}`;
    if (this.project !== undefined) line += `,"project":${str(this.project)}`;
    if (this.user !== undefined) line += `,"user":${str(this.user)}`;
    if (this.tls) line += ',"tls":true';
    if (f.readyMs !== undefined) line += `,"readyMs":${num(f.readyMs)}`;
    if (f.compute !== undefined) line += `,"compute":${str(f.compute)}`;
    if (f.auth !== undefined) line += `,"auth":${str(f.auth)}`;
    line += `,"reason":${str(f.reason)},"durationMs":${num(f.durationMs)},"bytesIn":${num(f.bytesIn)},"bytesOut":${num(f.bytesOut)},"msg":"session closed"${root[symbols.endSym]}`;
    root[symbols.streamSym].write(line);
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

/** A session's last line, besides the fields every line has. */
export interface ClosedLine {
  readyMs: number | undefined;
  compute: string | undefined;
  auth: string | undefined;
  reason: string;
  durationMs: number;
  bytesIn: number;
  bytesOut: number;
}

const INFO = 30;

/** What pino keeps on a logger under its exported symbols, and writes every line with. */
interface PinoInternals {
  [symbols.lsCacheSym]: Record<number, string>;
  [symbols.timeSym]: () => string;
  [symbols.chindingsSym]: string;
  [symbols.endSym]: string;
  [symbols.streamSym]: { write(line: string): void };
}

/**
 * A string as pino writes it. Names and reasons are almost always printable ASCII with
 * no `"` or `\\`, which JSON.stringify and pino quote as they are: quoted here, without
 * JSON.stringify's call into the runtime (five of them a line). A loop, not a regular
 * expression: in place V8 ran the expression through its runtime too.
 */
function str(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return JSON.stringify(s);
  }
  return `"${s}"`;
}

/**
 * As pino writes a number: not finite, null. The proxy's times are rounded to tenths
 * of a millisecond: such a number is spelled out from two small integers, the same
 * text as V8's shortest form of the double, without its double-to-string.
 */
function num(n: number): string | number {
  if (!Number.isFinite(n)) return 'null';
  const tenths = Math.round(n * 10);
  if (tenths / 10 !== n || tenths < 0 || tenths > 0x7fffffff) return n;
  const whole = (tenths / 10) | 0;
  const tenth = tenths - whole * 10;
  return tenth === 0 ? whole : `${whole}.${tenth}`;
}
