/**
 * Work that must follow an answer but need not delay it (an admission's
 * metrics and its log line), done for all the answers of one turn of the
 * event loop together, once the turn's I/O is done (setImmediate). Under
 * load the same calls cost less in a run of their own than scattered between
 * answers (docs/performance.md: 5 µs less CPU per admission, measured side
 * by side), and the answer goes out before any of it. What is pending when
 * the process stops is still done: a natural exit runs the event loop dry
 * first.
 */
export class TurnBatch<T> {
  private pending: T[] = [];

  constructor(
    private readonly run: (item: T) => void,
    /** Called with what `run` threw; the other items are still run. */
    private readonly onError: (error: unknown) => void,
  ) {}

  add(item: T): void {
    if (this.pending.length === 0) setImmediate(this.flush);
    this.pending.push(item);
  }

  readonly flush = (): void => {
    const items = this.pending;
    this.pending = [];
    for (const item of items) {
      try {
        this.run(item);
      } catch (error) {
        this.onError(error);
      }
    }
  };
}
