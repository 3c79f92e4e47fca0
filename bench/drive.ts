/**
 * POST /mutate load with autocannon (in the benchmark's own process): a
 * distinct uid per request spliced between the constant halves of a body, a
 * fixed number of admissions or a fixed rate for a duration, and each
 * response's latency handed to the caller.
 */
import autocannon from 'autocannon';

export interface BodyParts {
  prefix: Buffer;
  suffix: Buffer;
  uid: (n: number) => string;
  size: number;
}

export interface DriveOptions {
  port: number;
  body: BodyParts;
  connections: number;
  /** Stop after this many responses... */
  amount?: number;
  /** ...or after this many seconds. */
  seconds?: number;
  /** Requests per second over all connections (paced); unpaced when absent. */
  overallRate?: number;
  /** Each response's latency in milliseconds, as it arrives. */
  onResponse?: (ms: number) => void;
}

export interface DriveResult {
  requests: number;
  seconds: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

let uidCounter = 0;
let active: autocannon.Instance | undefined;

/** Stops the load in progress (on SIGINT). */
export function stopDriving(): void {
  active?.stop();
}

export function bodyFor(parts: BodyParts, n: number): Buffer {
  return Buffer.concat([parts.prefix, Buffer.from(parts.uid(n)), parts.suffix]);
}

export function drive(options: DriveOptions): Promise<DriveResult> {
  return new Promise((done, fail) => {
    const instance = autocannon(
      {
        url: `https://127.0.0.1:${options.port}`,
        connections: options.connections,
        pipelining: 1,
        timeout: 30,
        ...(options.amount !== undefined ? { amount: options.amount } : { duration: options.seconds ?? 10 }),
        ...(options.overallRate !== undefined ? { overallRate: options.overallRate } : {}),
        // autocannon 9 always connects with rejectUnauthorized: false; the
        // certificate chain is checked by the verification request before.
        requests: [
          {
            method: 'POST',
            path: '/mutate',
            headers: { 'content-type': 'application/json' },
            setupRequest: (req) => {
              uidCounter += 1;
              return { ...req, body: bodyFor(options.body, uidCounter) };
            },
          },
        ],
      },
      (error: unknown, result: autocannon.Result) => {
        active = undefined;
        if (error) fail(error instanceof Error ? error : new Error(String(error)));
        else
          done({
            requests: result.requests.total,
            seconds: result.duration,
            non2xx: result.non2xx,
            errors: result.errors,
            timeouts: result.timeouts,
          });
      },
    );
    active = instance;
    const onResponse = options.onResponse;
    if (onResponse !== undefined) instance.on('response', (_client, _status, _bytes, ms) => onResponse(ms));
  });
}

/** The names of the containers and init containers a base64 JSONPatch of an AdmissionReview response adds. */
export function addedContainers(responseBody: string): string[] {
  const review = JSON.parse(responseBody) as { response?: { allowed?: boolean; patch?: string } };
  if (review.response?.allowed !== true) throw new Error(`the pod was not allowed: ${responseBody.slice(0, 500)}`);
  if (typeof review.response.patch !== 'string') return [];
  const operations = JSON.parse(Buffer.from(review.response.patch, 'base64').toString('utf8')) as { op: string; path: string; value?: unknown }[];
  const added: string[] = [];
  for (const op of operations) {
    if (op.op !== 'add' || !/\/(initC|c)ontainers(\/|$)/.test(op.path)) continue;
    const values = Array.isArray(op.value) ? (op.value as unknown[]) : [op.value];
    for (const value of values) {
      const name = (value as { name?: unknown } | null)?.name;
      if (typeof name === 'string') added.push(name);
    }
  }
  return added;
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}
