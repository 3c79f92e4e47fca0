import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { startWebhook, type Webhook } from '../../src/serve/webhook.js';
import { writeTestCertificates } from './certs.js';
import { parseJson, send, type HttpResult, type RequestSpec, type Target } from './http.js';
import { LogCapture } from './logs.js';
import type { Json } from './reviews.js';
import type { TempDirs } from './temp.js';

export interface TestWebhook extends Target {
  webhook: Webhook;
  certDir: string;
  templatesDir: string;
  logs: LogCapture;
  /** A fresh HTTPS request (new connection) to the webhook. */
  request(spec: RequestSpec): Promise<HttpResult>;
  /** POSTs an AdmissionReview the way the apiserver does and expects a 200 AdmissionReview back. */
  review(review: Json, path?: string): Promise<Json>;
  stop(): Promise<void>;
}

/**
 * The real webhook in-process: real HTTPS on 127.0.0.1, an ephemeral port,
 * certificates from the project's generator, a private copy of templates/.
 */
export async function startTestWebhook(
  temps: TempDirs,
  options: { flags?: string[]; templatesDir?: string; certDir?: string; env?: Record<string, string> } = {},
): Promise<TestWebhook> {
  const certDir = options.certDir ?? (await temps.make('certs'));
  if (options.certDir === undefined) await writeTestCertificates(certDir);
  const templatesDir = options.templatesDir ?? (await temps.copyOfTemplates());
  const config = loadConfig(
    [
      '--host', '127.0.0.1',
      '--port', '0',
      '--cert-dir', certDir,
      '--templates-dir', templatesDir,
      // Watch only: proves the file watch works and keeps no timers alive.
      '--reload-poll', '0',
      '--shutdown-timeout', '5',
      ...(options.flags ?? []),
    ],
    {},
  );
  const logs = new LogCapture();
  // Only the test's env: no in-cluster namespace watch nor Pod identity, whatever the machine running the tests has set.
  const webhook = await startWebhook(config, { logDestination: logs, processMetrics: false, env: options.env ?? {} });
  const ca = await readFile(join(certDir, 'ca.crt'), 'utf8');
  const target: Target = { port: webhook.port, ca };
  let stopped = false;
  return {
    ...target,
    webhook,
    certDir,
    templatesDir,
    logs,
    request: (spec) => send(target, spec),
    review: async (review, path = '/mutate?timeout=10s') => {
      const result = await send(target, {
        method: 'POST',
        path,
        headers: { 'content-type': 'application/json', accept: 'application/json, */*' },
        body: JSON.stringify(review),
      });
      if (result.status !== 200) throw new Error(`expected 200 from ${path}, got ${result.status}: ${result.body}`);
      return parseJson(result);
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await webhook.stop();
    },
  };
}
