import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { Writable } from 'node:stream';
import { BatchedLines } from '../../src/observability/batched-lines.js';
import { isoTimeField } from '../../src/observability/iso-time.js';

describe('isoTimeField', () => {
  it('writes what Date#toISOString writes, for any millisecond and in any order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 4102444800000 }), { minLength: 1, maxLength: 20 }), (instants) => {
        let i = 0;
        const field = isoTimeField(() => instants[i] as number);
        for (i = 0; i < instants.length; i++) {
          expect(field()).toBe(`,"time":"${new Date(instants[i] as number).toISOString()}"`);
        }
      }),
    );
  });

  it('keeps the second it cached apart from the next one', () => {
    const times = [1764613508999, 1764613509000, 1764613509007, 1764613509050];
    let i = 0;
    const field = isoTimeField(() => times[i++] as number);
    expect(times.map(() => field())).toEqual(times.map((t) => `,"time":"${new Date(t).toISOString()}"`));
  });
});

/** A stream that records each write and reports the backlog the test sets. */
class Recorder extends Writable {
  chunks: string[] = [];
  backlog = 0;
  constructor() {
    super();
    Object.defineProperty(this, 'writableLength', { get: () => this.backlog });
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.chunks.push(chunk.toString());
    done();
  }
}

const line = (n: number): string => `{"n":${n},"pad":"${'x'.repeat(90)}"}\n`;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('BatchedLines', () => {
  it('writes the lines gathered as one chunk once there are enough, in order', () => {
    const out = new Recorder();
    const lines = new BatchedLines(out, { flushChars: 1000, flushMs: 60_000 });
    for (let n = 0; n < 9; n++) lines.write(line(n));
    expect(out.chunks).toEqual([]);
    lines.write(line(9));
    expect(out.chunks).toEqual([Array.from({ length: 10 }, (_, n) => line(n)).join('')]);
  });

  it('writes a few lines after the delay, and what is left when flushed', async () => {
    const out = new Recorder();
    const lines = new BatchedLines(out, { flushChars: 1_000_000, flushMs: 30 });
    lines.write(line(1));
    lines.write(line(2));
    expect(out.chunks).toEqual([]);
    await sleep(80);
    expect(out.chunks).toEqual([line(1) + line(2)]);
    lines.write(line(3));
    lines.flush();
    expect(out.chunks).toEqual([line(1) + line(2), line(3)]);
    lines.flush();
    expect(out.chunks).toHaveLength(2);
  });

  it('drops lines while the reader is behind, then says how many before the next ones', () => {
    const out = new Recorder();
    const lines = new BatchedLines(out, { flushChars: 1, maxBacklogBytes: 100 });
    out.backlog = 101;
    lines.write(line(1));
    lines.write(line(2));
    expect(out.chunks).toEqual([]);
    out.backlog = 0;
    lines.write(line(3));
    expect(out.chunks).toHaveLength(1);
    const [notice, next, ...rest] = (out.chunks[0] as string).split('\n');
    expect(JSON.parse(notice as string)).toMatchObject({ level: 'warn', dropped: 2, msg: 'log lines dropped: stdout was not being read' });
    expect(`${next}\n`).toBe(line(3));
    expect(rest).toEqual(['']);
    lines.write(line(4));
    expect(out.chunks[1]).toBe(line(4));
  });

  it('survives a stream that fails (a closed stdout) and writes nothing more to it', () => {
    const out = new Recorder();
    const lines = new BatchedLines(out, { flushChars: 1 });
    lines.write(line(1));
    out.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    expect(() => lines.write(line(2))).not.toThrow();
    expect(out.chunks).toEqual([line(1)]);
  });
});
