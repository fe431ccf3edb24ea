// Log lines leave in batches. A write to stdout per line was a tenth of a
// pooled connection's CPU (one "session closed" line each); gathered, it is one
// write per few kilobytes. Lines at info and below wait at most FLUSH_MS; a
// warning or worse leaves at once with everything before it, so a crash's last
// words are never held back, and the rest is written when the process exits.
//
// Lines wait here as separate strings and are joined once per write: appended
// one by one to the writer's own buffer, each line was copied again (and its
// byte length counted) as it arrived.
import type { DestinationStream, destination } from 'pino';

type Writer = ReturnType<typeof destination>;

/** pino writes each line as `{"level":NN,...`; the digit at this index tells a warning (4) or worse. */
const LEVEL_DIGIT = '{"level":'.length;
const WARN_DIGIT = 0x34;

export class BatchedLines implements DestinationStream {
  /** Characters that make a batch leave at once. */
  static readonly CHARS = 4096;
  static readonly FLUSH_MS = 100;

  private lines: string[] = [];
  private chars = 0;
  private timer: NodeJS.Timeout | undefined;

  /** `out` writes synchronously (a sonic-boom with `sync: true`). */
  constructor(private readonly out: Writer) {
    process.on('exit', this.flush);
  }

  write(line: string): void {
    this.lines.push(line);
    this.chars += line.length;
    if (this.chars >= BatchedLines.CHARS || !(line.charCodeAt(LEVEL_DIGIT) < WARN_DIGIT)) this.flush();
    else this.timer ??= setTimeout(this.flush, BatchedLines.FLUSH_MS).unref();
  }

  /** Writes what waits. */
  readonly flush = (): void => {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.lines.length === 0) return;
    const batch = this.lines.length === 1 ? this.lines[0]! : this.lines.join('');
    this.lines = [];
    this.chars = 0;
    this.out.write(batch);
  };
}
