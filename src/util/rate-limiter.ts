/**
 * At most one event per key per interval, for a bounded number of keys (the
 * oldest is forgotten first). Pure: the caller passes the time.
 */
export class KeyedRateLimiter {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly intervalMs: number,
    private readonly maxKeys = 10_000,
  ) {}

  allow(key: string, nowMs: number): boolean {
    const previous = this.last.get(key);
    if (previous !== undefined && nowMs - previous < this.intervalMs) return false;
    this.last.delete(key);
    this.last.set(key, nowMs);
    if (this.last.size > this.maxKeys) this.last.delete(this.last.keys().next().value as string);
    return true;
  }
}
