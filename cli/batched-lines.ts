// Log lines leave in batches. A write to stdout per line was a tenth of a
// pooled connection's CPU (one "session closed" line each); gathered, it is one
// write per few kilobytes. Lines at info and below wait at most FLUSH_MS; a
// warning or worse leaves at once with everything before it, so a crash's last
// words are never held back, and the rest is written when the process exits.
//
// Lines wait here as separate strings and are joined once per write: appended
// one by one to the writer's own buffer, each line was copied again (and its
// byte length counted) as it arrived.
//
// Several processes writing to one pipe (proxy workers sharing stdout): a write of
// at most PIPE_BUF (4096 bytes on Linux) reaches the pipe whole, a longer one may
// interleave with another process's. `maxWriteBytes` then keeps every write under
// it (a batch leaves before a line that would take it over), so lines of different
// workers never cut into each other; only a single line longer than that cannot be
// kept whole.
import type { DestinationStream, destination } from 'pino';

type Writer = ReturnType<typeof destination>;

/** pino writes each line as `{"level":NN,...`; the digit at this index tells a warning (4) or worse. */
const LEVEL_DIGIT = '{"level":'.length;
const WARN_DIGIT = 0x34;

/** What a write to a pipe is guaranteed atomic up to (POSIX PIPE_BUF on Linux). */
export const PIPE_BUF = 4096;

export interface BatchOptions {
  /** Bytes a single write may never exceed (but for one line longer than it); unbounded when unset. */
  maxWriteBytes?: number;
}

export class BatchedLines implements DestinationStream {
  /**
   * Bytes that make a batch leave at once: about 50 "session closed" lines. With a write
   * per 4 KiB the writes cost a churned connection about 1.8 µs (a CPU profile); 16 KiB
   * makes a quarter as many. Workers sharing a pipe bound each write by maxWriteBytes
   * (PIPE_BUF) anyway.
   */
  static readonly BYTES = 16 * 1024;
  static readonly FLUSH_MS = 100;

  private lines: string[] = [];
  private bytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly maxWriteBytes: number;

  /** `out` writes synchronously (a sonic-boom with `sync: true`). */
  constructor(
    private readonly out: Writer,
    o: BatchOptions = {},
  ) {
    this.maxWriteBytes = o.maxWriteBytes ?? Infinity;
    process.on('exit', this.flush);
  }

  write(line: string): void {
    // Bytes, not UTF-16 units: pino writes non-ASCII text as UTF-8 (up to 3 bytes a unit).
    const bytes = Buffer.byteLength(line);
    if (this.bytes + bytes > this.maxWriteBytes) this.flush();
    this.lines.push(line);
    this.bytes += bytes;
    if (this.bytes >= BatchedLines.BYTES || !(line.charCodeAt(LEVEL_DIGIT) < WARN_DIGIT)) this.flush();
    else this.timer ??= setTimeout(this.flush, BatchedLines.FLUSH_MS).unref();
  }

  /** Writes what waits. */
  readonly flush = (): void => {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.lines.length === 0) return;
    const batch = this.lines.length === 1 ? this.lines[0]! : this.lines.join('');
    this.lines = [];
    this.bytes = 0;
    this.out.write(batch);
  };
}
