import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeAdmissionReview, type DecodedReview } from '../admission/decode.js';
import { RequestError } from '../admission/errors.js';
import { encodeReview, reviewAdmission, reviewInvalidPod, type ReviewContext } from '../admission/review.js';
import type { AdmissionRequest } from '../admission/types.js';
import { isPodCreate, type NamespaceInfo } from '../inject/decide.js';
import type { Pod } from '../inject/kube-types.js';
import { namespaceInfoFrom } from '../inject/namespace.js';
import type { InjectionOutcome } from '../inject/plan.js';
import { problemDetail, type Problem } from '../inject/problems.js';
import { NamespaceUnavailableError, type ServerDeps } from './deps.js';
import { PlanCache } from './plan-cache.js';
import { TurnBatch } from './turn-batch.js';

// Only a pod create is judged with its namespace's settings; other requests never wait for a namespace.
const NOT_NEEDED: NamespaceInfo = namespaceInfoFrom(undefined);

function sendJson(res: ServerResponse, status: number, body: string, close = false): void {
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  };
  if (close) headers['connection'] = 'close';
  res.writeHead(status, headers);
  res.end(body);
}

function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const mediaType = contentType.split(';', 1)[0]?.trim().toLowerCase();
  return mediaType === 'application/json';
}

/** An answered admission, as its metrics and log line need it (not the pod: the batch should not keep it alive). */
interface Answered {
  outcome: InjectionOutcome;
  seconds: number;
  line: Record<string, unknown>;
}

function podName(pod: Pod | undefined, request: AdmissionRequest): string | undefined {
  return pod?.metadata?.name || request.name || pod?.metadata?.generateName || undefined;
}

/**
 * POST /mutate, kept off express on purpose: one raw body read with a size
 * cap, one JSON.parse, pre-compiled templates, one JSON.stringify.
 */
export function createMutateHandler(deps: ServerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { metrics, logger, maxBodyBytes } = deps;
  const hits = metrics.planCache.labels('hit');
  const misses = metrics.planCache.labels('miss');
  const cache = new PlanCache(deps.settings, 1024, (hit) => (hit ? hits : misses).inc());
  const plan: ReviewContext['plan'] = (facts, templates, _settings, ns) => cache.plan(facts, templates, ns);

  const refuse = (res: ServerResponse, error: RequestError, started: bigint, close = false): void => {
    metrics.badRequests.inc({ code: error.code });
    const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
    logger.warn({ outcome: 'bad_request', code: error.code, error: error.message, durationMs }, 'admission request refused');
    if (!res.headersSent) sendJson(res, error.status, JSON.stringify(error), close);
  };

  const failUnexpectedly = (res: ServerResponse, error: unknown, started: bigint): void => {
    logger.error({ err: error }, 'unexpected error while answering an admission review');
    refuse(res, new RequestError('INTERNAL', 'internal error while answering the review'), started);
  };

  const answer = (res: ServerResponse, body: string, started: bigint): void => {
    let decoded: DecodedReview;
    try {
      decoded = decodeAdmissionReview(body);
    } catch (error) {
      if (error instanceof RequestError) return refuse(res, error, started);
      throw error;
    }
    const { request, pod, invalidPod } = decoded;
    if (invalidPod !== undefined) return answerInvalidPod(res, request, invalidPod, started);
    const info = isPodCreate(request) ? deps.namespaceInfo(request.namespace ?? '') : NOT_NEEDED;
    if (!(info instanceof Promise)) return review(res, request, pod, info, started);
    // A namespace the informer has not seen yet: the only admission that waits for I/O.
    info
      .then(
        (ns) => review(res, request, pod, ns, started),
        (error: unknown) => {
          if (!(error instanceof NamespaceUnavailableError)) throw error;
          namespaceUnavailable(res, request, pod, error, started);
        },
      )
      .catch((error: unknown) => failUnexpectedly(res, error, started));
  };

  /**
   * Without its namespace's settings the pod could get the wrong templates or
   * none, so the webhook answers as a failed call (503) rather than guess: the
   * apiserver applies the configuration's failurePolicy (docs/asking-for-injection.md).
   */
  const namespaceUnavailable = (res: ServerResponse, request: AdmissionRequest, pod: Pod | undefined, error: NamespaceUnavailableError, started: bigint): void => {
    const failure = new RequestError('NAMESPACE_UNAVAILABLE', error.message);
    // A Status body: the apiserver decodes one from a failed call (client-go rest Result.Error)
    // and shows its message to whoever created the pod; the project's own error shape rides along.
    const status = { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: failure.status, reason: 'ServiceUnavailable', message: error.message };
    sendJson(res, failure.status, JSON.stringify({ ...status, ...failure.toJSON() }));
    logger.warn(
      {
        uid: request.uid,
        namespace: request.namespace ?? '',
        pod: podName(pod, request),
        operation: request.operation,
        dryRun: request.dryRun === true,
        outcome: 'failed',
        reason: 'namespace_unavailable',
        error: error.message,
        durationMs: Math.round(Number(process.hrtime.bigint() - started) / 1e3) / 1e3,
      },
      'admission',
    );
  };

  // No namespace wait and no Event: nothing is injected, and the apiserver tells the author why the pod is refused.
  const answerInvalidPod = (res: ServerResponse, request: AdmissionRequest, invalid: string, started: bigint): void => {
    const { response, outcome } = reviewInvalidPod(request, invalid);
    sendJson(res, 200, encodeReview(response));
    logAnswer(request, undefined, outcome, started);
  };

  const review = (res: ServerResponse, request: AdmissionRequest, pod: Pod | undefined, ns: NamespaceInfo, started: bigint): void => {
    const namespace = request.namespace ?? '';
    const { response, outcome } = reviewAdmission(request, pod, {
      templates: deps.templates.current(),
      settings: deps.settings,
      namespace: ns,
      plan,
    });
    sendJson(res, 200, encodeReview(response));
    logAnswer(request, pod, outcome, started);
    // Dry runs must have no side effects (sideEffects: None).
    if (request.dryRun !== true) deps.onOutcome?.(namespace, pod, outcome);
  };

  // The answer's metrics and log line, after the answers of this turn of the event loop.
  const answered = new TurnBatch<Answered>(
    ({ outcome, seconds, line }) => {
      record(outcome, seconds);
      logger.info(line, 'admission');
    },
    (error) => {
      try {
        logger.error({ err: error }, 'could not record an admission');
      } catch {
        // The logger itself failed: nothing left to tell.
      }
    },
  );

  const logAnswer = (request: AdmissionRequest, pod: Pod | undefined, outcome: InjectionOutcome, started: bigint): void => {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    answered.add({
      outcome,
      seconds,
      line: {
        uid: request.uid,
        namespace: request.namespace ?? '',
        pod: podName(pod, request),
        operation: request.operation,
        dryRun: request.dryRun === true,
        outcome: outcome.result,
        reason: outcome.result === 'injected' ? undefined : outcome.reason,
        templates: outcome.result === 'injected' ? outcome.templates : undefined,
        completed: outcome.result === 'denied' ? undefined : outcome.completed,
        problems: outcome.problems.length > 0 ? outcome.problems.map((p) => p.reason) : undefined,
        problemDetails: problemDetails(outcome.problems),
        durationMs: Math.round(seconds * 1e6) / 1e3,
      },
    });
  };

  // What a warning's short message leaves out, for the log only.
  const problemDetails = (problems: readonly Problem[]): string[] | undefined => {
    if (problems.length === 0) return undefined;
    const details = problems.flatMap((p) => {
      const detail = problemDetail(p);
      return detail === undefined ? [] : [`${p.reason}: ${detail}`];
    });
    return details.length > 0 ? details : undefined;
  };

  // Label children cached by key: prom-client hashes the label object on every call otherwise.
  const admissionCounters = new Map<string, { inc(): void }>();
  const durationHistograms = new Map<string, { observe(value: number): void }>();
  const record = (outcome: InjectionOutcome, seconds: number): void => {
    const reason = outcome.result === 'injected' ? 'injected' : outcome.reason;
    const key = `${outcome.result}/${reason}`;
    let counter = admissionCounters.get(key);
    if (counter === undefined) admissionCounters.set(key, (counter = metrics.admissions.labels(outcome.result, reason)));
    counter.inc();
    let histogram = durationHistograms.get(outcome.result);
    if (histogram === undefined) durationHistograms.set(outcome.result, (histogram = metrics.duration.labels(outcome.result)));
    histogram.observe(seconds);
    if (outcome.result === 'injected') for (const template of outcome.templates) metrics.injections.inc({ template });
    for (const problem of outcome.problems) metrics.problems.inc({ reason: problem.reason });
  };

  return (req, res) => {
    const started = process.hrtime.bigint();
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      req.resume();
      return refuse(res, new RequestError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on /mutate; use POST`), started);
    }
    if (!isJson(req.headers['content-type'])) {
      req.resume();
      const got = req.headers['content-type'] ?? 'none';
      return refuse(res, new RequestError('UNSUPPORTED_MEDIA_TYPE', `Content-Type must be application/json, got ${got}`), started);
    }
    const tooLarge = (): RequestError =>
      new RequestError('BODY_TOO_LARGE', `the body exceeds the limit of ${maxBodyBytes} bytes`);
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > maxBodyBytes) {
      // Answer without reading; close the connection rather than drain megabytes.
      return refuse(res, tooLarge(), started, true);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let overflow = false;
    req.on('data', (chunk: Buffer) => {
      if (overflow) return;
      size += chunk.length;
      if (size > maxBodyBytes) {
        overflow = true;
        chunks.length = 0;
        refuse(res, tooLarge(), started, true);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (overflow) return;
      try {
        answer(res, Buffer.concat(chunks, size).toString('utf8'), started);
      } catch (error) {
        failUnexpectedly(res, error, started);
      }
    });
    req.on('error', () => {
      if (!res.headersSent) refuse(res, new RequestError('REQUEST_ABORTED', 'the request body could not be read'), started, true);
    });
  };
}
