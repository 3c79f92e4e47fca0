import { pino, type Logger, type DestinationStream } from 'pino';
import { BatchedLines } from './batched-lines.js';
import { isoTimeField } from './iso-time.js';

export type { Logger };

/**
 * A JSON logger. Lines are gathered into one write per 4 KiB or 250 ms
 * instead of one write(2) per admission line (observability/batched-lines.ts),
 * and what is gathered is written when the process exits. Tests pass their
 * own destination to read the lines back.
 */
export function createLogger(options: { level: string; destination?: DestinationStream }): Logger {
  let destination = options.destination;
  if (destination === undefined) {
    const stdout = new BatchedLines(process.stdout);
    process.once('exit', stdout.flush);
    destination = stdout;
  }
  return pino(
    {
      level: options.level,
      base: { service: 'sidecar-injector' },
      timestamp: isoTimeField(),
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
