import { watch } from 'node:fs';

export interface DirectoryWatch {
  close(): void;
}

/**
 * Calls `onChange` after changes in a directory settle. The directory is
 * watched, not its files: mounted ConfigMaps and Secrets swap a `..data`
 * symlink, and tools replace files by rename, both of which a file watch
 * misses. A bounded poll is the safety net for file systems whose events get
 * lost, and for a directory that does not exist yet.
 */
export function watchDirectory(
  directory: string,
  onChange: () => void,
  options: { debounceMs?: number; pollIntervalMs: number },
): DirectoryWatch {
  let debounce: NodeJS.Timeout | undefined;
  const schedule = (): void => {
    clearTimeout(debounce);
    // ~100 ms coalesces the burst of events of one ConfigMap update (istio does the same).
    debounce = setTimeout(onChange, options.debounceMs ?? 100);
  };
  let watcher: ReturnType<typeof watch> | undefined;
  try {
    watcher = watch(directory, schedule);
    watcher.on('error', () => undefined);
  } catch {
    // Missing directory: the poll picks it up once it exists.
  }
  const poll = options.pollIntervalMs > 0 ? setInterval(onChange, options.pollIntervalMs) : undefined;
  poll?.unref();
  return {
    close: () => {
      watcher?.close();
      clearTimeout(debounce);
      clearInterval(poll);
    },
  };
}
