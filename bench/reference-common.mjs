// Shared by the two reference servers of the benchmark: arguments, the HTTPS
// server with the same TLS and timeout settings as sidecar-injector, and a
// graceful stop on SIGTERM/SIGINT. Plain JavaScript: no tsx at run time.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

export function referenceOptions() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      'cert-dir': { type: 'string' },
      response: { type: 'string' },
    },
  });
  if (!values.port || !values['cert-dir'] || !values.response) {
    throw new Error('usage: --port N --cert-dir DIR --response FILE (an AdmissionReview response, JSON)');
  }
  return {
    port: Number(values.port),
    certDir: values['cert-dir'],
    /** The injector's own answer to the benchmark review: same bytes, same patch. */
    response: JSON.parse(readFileSync(values.response, 'utf8')),
  };
}

const HEALTHY = JSON.stringify({ status: 'ok' });

/** node:https on 127.0.0.1 with the injector's settings; `handle` gets every request but GET /healthz. */
export function serve(name, { port, certDir }, handle) {
  const server = createServer(
    {
      cert: readFileSync(join(certDir, 'tls.crt')),
      key: readFileSync(join(certDir, 'tls.key')),
      minVersion: 'TLSv1.2',
      headersTimeout: 10_000,
      requestTimeout: 30_000,
      keepAliveTimeout: 60_000,
    },
    (req, res) => {
      if (req.method === 'GET' && req.url === '/healthz') {
        req.resume();
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': HEALTHY.length });
        res.end(HEALTHY);
        return;
      }
      handle(req, res);
    },
  );
  server.listen(port, '127.0.0.1', () => {
    process.stdout.write(`${name} listening on https://127.0.0.1:${server.address().port}\n`);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
