/** A pino destination that keeps every line, for asserting on the structured logs. */
export class LogCapture {
  readonly lines: string[] = [];

  write(line: string): void {
    this.lines.push(line);
  }

  entries(): Array<Record<string, unknown>> {
    return this.lines.flatMap((chunk) =>
      chunk
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    );
  }

  withMessage(msg: string): Array<Record<string, unknown>> {
    return this.entries().filter((entry) => entry['msg'] === msg);
  }

  /** The log so far, for failure messages. */
  dump(): string {
    return this.lines.join('');
  }
}
