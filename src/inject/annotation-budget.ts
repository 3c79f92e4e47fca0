// The apiserver refuses an object whose annotations total more than 256 KiB:
// the sum of len(key) + len(value) in bytes over all of them
// (TotalAnnotationSizeLimitB and ValidateAnnotationsSize in
// k8s.io/apimachinery/pkg/api/validation/objectmeta.go). The injection record
// is one more annotation, so the patch must not be what pushes a pod past it.

import { STATUS_ANNOTATION } from './annotations.js';
import { fitted, shortProblem, type Problem } from './problems.js';

export const ANNOTATION_LIMIT_BYTES = 256 * 1024;

/** Bytes as the apiserver counts them (Go's len of a string: UTF-8 bytes). */
const bytesOf = (text: string): number => Buffer.byteLength(text, 'utf8');

/** The apiserver's measure of a set of annotations, leaving out `except` (the one about to be replaced). */
export function annotationBytes(annotations: Readonly<Record<string, string>> | undefined, except?: string): number {
  let total = 0;
  for (const key in annotations) {
    if (key !== except) total += bytesOf(key) + bytesOf(annotations[key] as string);
  }
  return total;
}

/** The annotations' size once `key` is set to `value`. */
export function annotationBytesWith(otherBytes: number, key: string, value: string): number {
  return otherBytes + bytesOf(key) + bytesOf(value);
}

/**
 * The problem of a pod whose injection record would take its annotations past
 * the limit. Such a pod is always refused, whatever --on-problem says:
 * injected, the apiserver would refuse it for a patch its author never wrote,
 * and left out, the record that makes injection idempotent would be missing.
 */
export function annotationBudgetProblem(total: number, recordBytes: number): Problem {
  return shortProblem(
    'annotations_too_large',
    undefined,
    fitted`the pod's annotations would total ${total} bytes with the injection record, over the limit of ${ANNOTATION_LIMIT_BYTES}`,
    `${STATUS_ANNOTATION} would take ${recordBytes} bytes; the API server refuses a pod whose annotation keys and values exceed ${ANNOTATION_LIMIT_BYTES} bytes in all`,
  );
}
