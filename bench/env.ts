// The benchmarks' settings from the environment: a whole number, or the default.

/** `process.env[name]` as a whole number >= min, `fallback` when unset; a clear error otherwise. */
export function envInt(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be a whole number >= ${min}, got "${raw}"`);
  return value;
}
