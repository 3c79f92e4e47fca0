import type { Writable } from 'node:stream';

export interface BatchedLinesOptions {
  /** Write once this many characters are gathered (default 4 KiB)... */
  flushChars?: number;
  /** ...or this long after the first line of a batch (default 250 ms). */
  flushMs?: number;
  /**
   * Drop lines while the stream holds more than this many bytes it could not
   * write yet (default 8 MiB): a reader that stopped reading must neither
   * block the webhook nor grow its heap without bound.
   */
  maxBacklogBytes?: number;
}

/**
 * The process's log destination: lines gathered into one write of about
 * 4 KiB (or every 250 ms) to a stream, stdout in production. Not
 * pino.destination (sonic-boom): it measures the byte length of its whole
 * pending buffer on every line (a flatten and a UTF-8 scan of up to 4 KiB
 * per line), and its asynchronous writes go through libuv's thread pool, a
 * hand-off between threads for each. process.stdout writes a pipe (a
 * container's stdout) from the main thread without blocking, and a file
 * synchronously. Measured in docs/performance.md.
 */
export class BatchedLines {
  private text = '';
  private lines = 0;
  private dropped = 0;
  private broken = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly flushChars: number;
  private readonly flushMs: number;
  private readonly maxBacklogBytes: number;

  constructor(
    private readonly out: Writable,
    options: BatchedLinesOptions = {},
  ) {
    this.flushChars = options.flushChars ?? 4096;
    this.flushMs = options.flushMs ?? 250;
    this.maxBacklogBytes = options.maxBacklogBytes ?? 8 * 1024 * 1024;
    // A closed stdout (EPIPE) must not crash the webhook: its answers matter more than its log.
    out.on('error', () => {
      this.broken = true;
    });
  }

  /** One line, with its newline (pino's destination interface). */
  write(line: string): void {
    if (this.broken) return;
    this.text += line;
    this.lines += 1;
    if (this.text.length >= this.flushChars) this.flush();
    else if (this.timer === undefined) this.timer = setTimeout(this.flush, this.flushMs).unref();
  }

  /** Writes what is gathered now (also at exit). */
  readonly flush = (): void => {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.lines === 0 || this.broken) return;
    const { text, lines } = this;
    this.text = '';
    this.lines = 0;
    if (this.out.writableLength > this.maxBacklogBytes) {
      this.dropped += lines;
      return;
    }
    this.out.write(this.dropped === 0 ? text : droppedNotice(this.dropped) + text);
    this.dropped = 0;
  };
}

function droppedNotice(count: number): string {
  const line = {
    level: 'warn',
    time: new Date().toISOString(),
    service: 'sidecar-injector',
    dropped: count,
    msg: 'log lines dropped: stdout was not being read',
  };
  return `${JSON.stringify(line)}\n`;
}
