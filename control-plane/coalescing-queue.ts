// One compute's operations, one at a time and in arrival order, where a request
// that matches the newest queued or running operation joins it instead of
// queueing a copy. That gives the wake rules in one place:
//   - twenty wakes of a stopped compute: one resume, twenty answers;
//   - a wake during a suspend: queued behind it, so it resumes what the
//     suspend left (and later wakes join that resume);
//   - a suspend during a resume: queued behind it, never interleaved.

interface Entry {
  key: string;
  promise: Promise<unknown>;
}

export class CoalescingQueue {
  private tail: Promise<void> = Promise.resolve();
  private newest: Entry | undefined;
  private pending = 0;
  /** Keys of the operations running or waiting, in arrival order. */
  private readonly queued: string[] = [];

  /** Whether an operation runs or waits. */
  get busy(): boolean {
    return this.pending > 0;
  }

  /** Whether something runs or waits, and every such operation's key passes `test`. */
  busyOnly(test: (key: string) => boolean): boolean {
    return this.queued.length > 0 && this.queued.every(test);
  }

  run<T>(key: string, op: () => Promise<T>): Promise<T> {
    if (this.newest && this.newest.key === key) return this.newest.promise as Promise<T>;
    const promise = this.tail.then(op);
    const entry: Entry = { key, promise };
    this.newest = entry;
    this.pending++;
    this.queued.push(key);
    const settle = () => {
      this.pending--;
      this.queued.splice(this.queued.indexOf(key), 1);
      if (this.newest === entry) this.newest = undefined;
    };
    // `tail` never rejects, so one failed operation does not poison the next.
    this.tail = promise.then(settle, settle);
    return promise;
  }

  /** Resolves once everything queued so far has finished, however it ended. */
  idle(): Promise<void> {
    return this.tail;
  }
}
