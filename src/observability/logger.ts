import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * A JSON logger. Lines are buffered (4 KiB or 250 ms, whichever comes first)
 * instead of one write(2) per admission line, which costs more than the rest
 * of the log call; the buffer is flushed synchronously when the process exits.
 * Tests pass their own destination to read the lines back.
 */
export function createLogger(options: { level: string; destination?: DestinationStream }): Logger {
  let destination = options.destination;
  if (destination === undefined) {
    const stdout = pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 250 });
    process.once('exit', () => {
      try {
        stdout.flushSync();
      } catch {
        // Destroyed or never opened: nothing left to write.
      }
    });
    destination = stdout;
  }
  return pino(
    {
      level: options.level,
      base: { service: 'sidecar-injector' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
