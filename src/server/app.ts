import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { RequestError } from '../admission/errors.js';
import type { ServerDeps } from './deps.js';
import { createMutateHandler } from './mutate-handler.js';

/** Why the process is not ready, or an empty list when it is. */
export function readinessProblems(deps: ServerDeps): string[] {
  const problems: string[] = [];
  // First, so the endpoint is withdrawn while the process still answers (docs/running.md "Shutdown and rollouts").
  if (deps.draining()) problems.push('shutting down');
  if (!deps.templates.isReady()) {
    const errors = deps.templates.lastErrors();
    problems.push(`templates not loaded${errors.length > 0 ? `: ${errors.join('; ')}` : ''}`);
  }
  if (deps.namespaces !== undefined && !deps.namespaces.isSynced()) problems.push('namespace cache not synced');
  const certificate = deps.certificate.current();
  const now = deps.now();
  if (certificate === undefined) problems.push('no serving certificate');
  else if (now < certificate.notBefore) problems.push(`certificate not valid before ${certificate.notBefore.toISOString()}`);
  else if (now > certificate.notAfter) problems.push(`certificate expired at ${certificate.notAfter.toISOString()}`);
  return problems;
}

/** Express for the low-traffic endpoints: health, readiness, metrics. */
export function createOpsApp(deps: ServerDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const problems = readinessProblems(deps);
    const set = deps.templates.current();
    res.status(problems.length === 0 ? 200 : 503).json({
      status: problems.length === 0 ? 'ready' : 'not ready',
      problems,
      templates: [...set.templates.keys()],
      templatesRevision: set.revision,
      // A directory that turned invalid after start: still ready (the last good set serves), but said.
      ...(deps.templates.isReady() && deps.templates.lastErrors().length > 0 ? { templateErrors: deps.templates.lastErrors() } : {}),
      certificateNotAfter: deps.certificate.current()?.notAfter.toISOString(),
    });
  });
  app.get('/metrics', async (_req, res, next) => {
    try {
      res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
    } catch (error) {
      next(error);
    }
  });
  app.use((req, res) => {
    const error = new RequestError('NOT_FOUND', `no route for ${req.method} ${req.path}`);
    res.status(error.status).json(error);
  });
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    deps.logger.error({ err: error }, 'unexpected error');
    const failure = new RequestError('INTERNAL', 'internal error');
    res.status(failure.status).json(failure);
  });
  return app;
}

/** The request listener of the HTTPS server: /mutate on the raw fast path, the rest through express. */
export function createApp(deps: ServerDeps): RequestListener {
  const mutate = createMutateHandler(deps);
  const ops = createOpsApp(deps);
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    // The apiserver appends `?timeout=10s`; only the path selects the handler.
    const path = url.includes('?') ? url.slice(0, url.indexOf('?')) : url;
    if (path === '/mutate') mutate(req, res);
    else ops(req, res);
  };
}
