import { send, type Target } from '../../support/http.js';

/** The value of one Prometheus sample of the process, e.g. `name{a="b"}`; 0 when absent. */
export async function metricValue(target: Target, sample: string): Promise<number> {
  const text = (await send(target, { path: '/metrics' })).body;
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}
