import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXAMPLES_DIR } from './paths.js';

export const INJECT_ANNOTATION = 'sidecar.example/inject';
export const STATUS_ANNOTATION = 'sidecar.example/status';

/* eslint-disable @typescript-eslint/no-explicit-any -- reviews are free-form JSON edited per test */
export type Json = any;

const EXAMPLE_TEXT = readFileSync(join(EXAMPLES_DIR, 'admission-review.json'), 'utf8');

/** A fresh copy of examples/admission-review.json (a ReplicaSet-made pod asking for log-collector). */
export function exampleReview(): Json {
  return JSON.parse(EXAMPLE_TEXT);
}

/** The example with a new uid and, if given, another inject annotation (null removes it). */
export function podReview(options: { inject?: string | null; uid?: string; dryRun?: boolean } = {}): Json {
  const review = exampleReview();
  review.request.uid = options.uid ?? randomUUID();
  if (options.inject === null) delete review.request.object.metadata.annotations[INJECT_ANNOTATION];
  else if (options.inject !== undefined) review.request.object.metadata.annotations[INJECT_ANNOTATION] = options.inject;
  if (options.dryRun !== undefined) {
    review.request.dryRun = options.dryRun;
    if (options.dryRun) review.request.options.dryRun = ['All'];
  }
  return review;
}

/** The AdmissionResponse patch, checked to be standard padded base64 of a JSON array. */
export function decodePatch(patch: unknown): Json[] {
  if (typeof patch !== 'string') throw new Error(`patch is not a string: ${JSON.stringify(patch)}`);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(patch) || patch.length % 4 !== 0) {
    throw new Error(`patch is not standard padded base64: ${patch.slice(0, 80)}`);
  }
  const operations: unknown = JSON.parse(Buffer.from(patch, 'base64').toString('utf8'));
  if (!Array.isArray(operations)) throw new Error('patch does not decode to a JSON array');
  return operations;
}
