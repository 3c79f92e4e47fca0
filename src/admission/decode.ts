import { Ajv, type ErrorObject } from 'ajv';
import { dottedPath } from '../util/dotted-path.js';
import { isPodCreate } from '../inject/decide.js';
import type { Pod } from '../inject/kube-types.js';
import { RequestError } from './errors.js';
import { admissionRequestSchema, podSchema } from './schema.js';
import { ADMISSION_API_VERSION, ADMISSION_KIND, type AdmissionRequest } from './types.js';

const ajv = new Ajv({ allErrors: false, strict: false });
const validateRequest = ajv.compile<AdmissionRequest>(admissionRequestSchema);
const validatePod = ajv.compile<Pod>(podSchema);

function describe(prefix: string[], errors: ErrorObject[] | null | undefined): string {
  const error = errors?.[0];
  if (error === undefined) return 'is invalid';
  const segments = [...prefix, ...error.instancePath.split('/').filter((s) => s !== '')];
  if (error.keyword === 'required') {
    segments.push(String((error.params as { missingProperty?: string }).missingProperty));
    return `${dottedPath(segments)} is required`;
  }
  if (error.keyword === 'minLength') return `${dottedPath(segments)} must not be empty`;
  return `${dottedPath(segments)} ${error.message ?? 'is invalid'}`;
}

/**
 * A decoded review. `invalidPod` says what is wrong with a pod that is not a
 * valid pod: the review itself is sound, so the pod is answered (allowed, not
 * patched) and the apiserver's own validation names the field.
 */
export interface DecodedReview {
  request: AdmissionRequest;
  pod: Pod | undefined;
  invalidPod?: string;
}

/**
 * Turns a request body into a validated AdmissionRequest, or throws a
 * RequestError saying exactly what is wrong with the envelope. The pod is
 * checked only where the injector will read it: on CREATE of pods.
 */
export function decodeAdmissionReview(body: string): DecodedReview {
  let review: unknown;
  try {
    review = JSON.parse(body);
  } catch (error) {
    throw new RequestError('INVALID_JSON', `the body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof review !== 'object' || review === null || Array.isArray(review)) {
    throw new RequestError('NOT_AN_ADMISSION_REVIEW', 'the body must be a JSON object (an AdmissionReview)');
  }
  const { apiVersion, kind, request } = review as Record<string, unknown>;
  if (apiVersion !== ADMISSION_API_VERSION || kind !== ADMISSION_KIND) {
    throw new RequestError(
      'NOT_AN_ADMISSION_REVIEW',
      `expected apiVersion "${ADMISSION_API_VERSION}" and kind "${ADMISSION_KIND}", got ${JSON.stringify(apiVersion ?? null)} and ${JSON.stringify(kind ?? null)}`,
    );
  }
  if (typeof request !== 'object' || request === null) {
    throw new RequestError('MISSING_REQUEST', 'the AdmissionReview has no "request"');
  }
  const uid = (request as Record<string, unknown>)['uid'];
  if (typeof uid !== 'string' || uid === '') {
    throw new RequestError('MISSING_UID', 'request.uid must be a non-empty string');
  }
  if (!validateRequest(request)) {
    throw new RequestError('INVALID_REQUEST', describe(['request'], validateRequest.errors));
  }
  if (!isPodCreate(request)) return { request, pod: undefined };
  const object = request.object;
  if (typeof object !== 'object' || object === null || Array.isArray(object)) {
    throw new RequestError('INVALID_REQUEST', 'request.object must be the pod (an object) on a pod CREATE');
  }
  if (!validatePod(object)) return { request, pod: undefined, invalidPod: describe([], validatePod.errors) };
  return { request, pod: object };
}
