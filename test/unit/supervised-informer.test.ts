import { describe, expect, it } from '@jest/globals';
import type { Informer, KubernetesObject } from '@kubernetes/client-node';
import { supervise } from '../../src/kube/supervised-informer.js';

/** Behaves like client-node's informer: stop() aborts the watch, which reaches the error handlers. */
function fakeInformer(): { informer: Informer<KubernetesObject>; fail(error: Error): void } {
  const onError: Array<(error: unknown) => void> = [];
  const fail = (error: Error): void => onError.forEach((handler) => handler(error));
  const informer = {
    start: () => Promise.resolve(),
    stop: () => {
      fail(Object.assign(new Error('The operation was aborted'), { name: 'AbortError' }));
      return Promise.resolve();
    },
    on: (event: string, handler: (error: unknown) => void) => {
      if (event === 'error') onError.push(handler);
    },
  };
  return { informer: informer as unknown as Informer<KubernetesObject>, fail };
}

describe('supervise', () => {
  it('reports a failed watch, but not the abort of its own stop()', async () => {
    const { informer, fail } = fakeInformer();
    const errors: unknown[] = [];
    const supervised = supervise(informer, { onError: (error) => errors.push(error) });
    supervised.start();
    fail(new Error('watch closed: 500'));
    expect(errors.map((e) => (e as Error).message)).toEqual(['watch closed: 500']);
    await supervised.stop();
    expect(errors).toHaveLength(1);
  });
});
