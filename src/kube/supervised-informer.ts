// An informer that keeps itself running: client-node's informer stops on a
// failed list or watch, so every one of ours restarts it (a re-list), with a
// backoff that stays short because readiness may wait for the first list.
import type { Informer, KubernetesObject } from '@kubernetes/client-node';

const FIRST_DELAY_MS = 2_000;
const MAX_DELAY_MS = 10_000;

export interface SupervisedInformer {
  /** Lists and watches in the background; `onStarted` after each successful list. */
  start(): void;
  stop(): Promise<void>;
}

export function supervise<T extends KubernetesObject>(
  informer: Informer<T>,
  handlers: { onError: (error: unknown) => void; onStarted?: () => void },
): SupervisedInformer {
  let failures = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const attempt = (): void => {
    informer.start().then(() => {
      failures = 0;
      handlers.onStarted?.();
    }, retry);
  };
  const retry = (error: unknown): void => {
    // stop() aborts the watch, which the informer reports as an error: that is the normal end, not a failure.
    if (stopped) return;
    handlers.onError(error);
    clearTimeout(timer);
    timer = setTimeout(attempt, Math.min(FIRST_DELAY_MS * 2 ** failures, MAX_DELAY_MS));
    failures += 1;
  };
  informer.on('error', retry);
  return {
    start: attempt,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await informer.stop();
    },
  };
}
