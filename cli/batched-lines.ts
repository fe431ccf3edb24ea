// Log lines leave in batches. A write to stdout per line was a tenth of a
// pooled connection's CPU (one "session closed" line each); gathered, it is one
// write per few kilobytes. Lines at info and below wait at most FLUSH_MS; a
// warning or worse leaves at once with everything before it, so a crash's last
// words are never held back, and the rest is written when the process exits.
import type { DestinationStream, destination } from 'pino';

type Writer = ReturnType<typeof destination>;

/** pino writes each line as `{"level":NN,...`; the digit at this index tells a warning (4) or worse. */
const LEVEL_DIGIT = '{"level":'.length;
const WARN_DIGIT = 0x34;

export class BatchedLines implements DestinationStream {
  /** What the writer holds before it writes on its own (sonic-boom's minLength). */
  static readonly BYTES = 4096;
  static readonly FLUSH_MS = 100;

  private timer: NodeJS.Timeout | undefined;

  /** `out` is a synchronous sonic-boom with `minLength` BYTES: it writes once that much waits. */
  constructor(private readonly out: Writer) {
    process.on('exit', this.flush);
  }

  write(line: string): void {
    this.out.write(line);
    if (!(line.charCodeAt(LEVEL_DIGIT) < WARN_DIGIT)) this.flush();
    else this.timer ??= setTimeout(this.flush, BatchedLines.FLUSH_MS).unref();
  }

  /** Writes what waits, synchronously (the writer is synchronous). */
  readonly flush = (): void => {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.out.flush();
  };
}
