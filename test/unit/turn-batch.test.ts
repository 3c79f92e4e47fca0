import { expect, it } from '@jest/globals';
import { TurnBatch } from '../../src/server/turn-batch.js';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

it('runs nothing while the turn is going on, then every item of the turn in order', async () => {
  const ran: number[] = [];
  const batch = new TurnBatch<number>((n) => ran.push(n), () => undefined);
  batch.add(1);
  batch.add(2);
  batch.add(3);
  expect(ran).toEqual([]);
  await Promise.resolve(); // microtasks are still this turn
  expect(ran).toEqual([]);
  await nextTurn();
  expect(ran).toEqual([1, 2, 3]);
});

it('keeps going after an item that throws, and hands the error over', async () => {
  const ran: string[] = [];
  const errors: unknown[] = [];
  const batch = new TurnBatch<string>(
    (item) => {
      if (item === 'bad') throw new Error('cannot record bad');
      ran.push(item);
    },
    (error) => errors.push(error),
  );
  for (const item of ['a', 'bad', 'b']) batch.add(item);
  await nextTurn();
  expect(ran).toEqual(['a', 'b']);
  expect(errors).toHaveLength(1);
  expect((errors[0] as Error).message).toBe('cannot record bad');
});

it('starts a new batch for what is added while one runs, and for later turns', async () => {
  const ran: string[] = [];
  const batch: TurnBatch<string> = new TurnBatch<string>(
    (item) => {
      ran.push(item);
      if (item === 'first') batch.add('added while running');
    },
    () => undefined,
  );
  batch.add('first');
  await nextTurn();
  expect(ran).toEqual(['first']);
  await nextTurn();
  expect(ran).toEqual(['first', 'added while running']);
  batch.add('later');
  await nextTurn();
  expect(ran).toEqual(['first', 'added while running', 'later']);
});
