// The namespace lookup of the admission path: memory first and synchronous;
// on a miss one bounded API read per name, shared by the admissions waiting
// for it. The reader here is a fake the test resolves by hand.
import { describe, expect, it } from '@jest/globals';
import type { NamespaceMetadata } from '../../src/inject/namespace.js';
import { NamespaceLookup, namespaceInfoOf, type NamespaceReadResult } from '../../src/serve/namespace-lookup.js';
import { NamespaceUnavailableError } from '../../src/server/deps.js';

const OPTED_IN: NamespaceMetadata = {
  labels: { 'sidecar.example/injection': 'enabled' },
  annotations: { 'sidecar.example/inject': 'log-collector' },
};

interface PendingRead {
  name: string;
  signal: AbortSignal;
  resolve(namespace: NamespaceMetadata | undefined): void;
  reject(error: unknown): void;
}

/** A lookup over a fake informer (`known`) and a fake API whose reads the test answers. */
function lookupWith(options: { known?: Record<string, NamespaceMetadata>; timeoutMs?: number } = {}) {
  const reads: PendingRead[] = [];
  const results: NamespaceReadResult[] = [];
  const lookup = new NamespaceLookup({
    cached: (name) => options.known?.[name],
    read: (name, signal) => new Promise((resolve, reject) => reads.push({ name, signal, resolve, reject })),
    timeoutMs: options.timeoutMs ?? 60_000,
    onRead: (_name, result) => results.push(result),
  });
  return { lookup, reads, results };
}

function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('NamespaceLookup', () => {
  it('answers a namespace the informer has from memory, synchronously, without a read', () => {
    const { lookup, reads, results } = lookupWith({ known: { shop: OPTED_IN } });
    expect(lookup.get('shop')).toBe(OPTED_IN);
    expect(reads).toHaveLength(0);
    expect(results).toEqual([]);
  });

  it('reads a namespace the informer has not seen yet from the API', async () => {
    const { lookup, reads, results } = lookupWith();
    const pending = lookup.get('new-shop');
    expect(pending).toBeInstanceOf(Promise);
    expect(reads.map((r) => r.name)).toEqual(['new-shop']);
    reads[0]?.resolve(OPTED_IN);
    await expect(pending).resolves.toBe(OPTED_IN);
    expect(results).toEqual(['found']);
  });

  it('shares one read among the admissions that miss the same namespace at once', async () => {
    const { lookup, reads, results } = lookupWith();
    const waiting = [lookup.get('new-shop'), lookup.get('new-shop'), lookup.get('new-shop')];
    const other = lookup.get('other');
    expect(reads.map((r) => r.name)).toEqual(['new-shop', 'other']);
    reads[0]?.resolve(OPTED_IN);
    reads[1]?.resolve(undefined);
    expect(await Promise.all(waiting)).toEqual([OPTED_IN, OPTED_IN, OPTED_IN]);
    await expect(other).resolves.toBeUndefined();
    expect(results).toEqual(['found', 'not_found']);
  });

  it('reads again on a later miss: a settled read is not kept (the informer is the cache)', async () => {
    const { lookup, reads } = lookupWith();
    const first = lookup.get('new-shop');
    reads[0]?.resolve(OPTED_IN);
    await first;
    const second = lookup.get('new-shop');
    expect(reads).toHaveLength(2);
    reads[1]?.resolve(OPTED_IN);
    await expect(second).resolves.toBe(OPTED_IN);
  });

  it('gives up after the timeout, aborts the read, and fails every waiting admission with NamespaceUnavailableError', async () => {
    const { lookup, reads, results } = lookupWith({ timeoutMs: 20 });
    const waiting = [lookup.get('slow'), lookup.get('slow')];
    const errors = await Promise.all(waiting.map((p) => Promise.resolve(p).then(() => undefined, (error: unknown) => error)));
    for (const error of errors) {
      expect(error).toBeInstanceOf(NamespaceUnavailableError);
      expect(error).toMatchObject({ namespace: 'slow', result: 'timeout' });
      expect((error as Error).message).toBe('namespace "slow" is not in the webhook\'s cache yet and could not be read: no answer from the API within 20 ms');
    }
    expect(reads).toHaveLength(1);
    expect(reads[0]?.signal.aborted).toBe(true);
    expect(results).toEqual(['timeout']);
    // A late answer changes nothing, and the next miss reads anew.
    reads[0]?.resolve(OPTED_IN);
    await settle();
    expect(results).toEqual(['timeout']);
    const next = lookup.get('slow');
    expect(reads).toHaveLength(2);
    reads[1]?.resolve(OPTED_IN);
    await expect(next).resolves.toBe(OPTED_IN);
  });

  it('bounds a read even when the reader ignores the abort signal', async () => {
    const lookup = new NamespaceLookup({ cached: () => undefined, read: () => new Promise(() => undefined), timeoutMs: 20 });
    await expect(lookup.get('stuck')).rejects.toMatchObject({ result: 'timeout' });
  });

  it('turns an API error into NamespaceUnavailableError with a short description', async () => {
    const { lookup, reads, results } = lookupWith();
    const pending = lookup.get('forbidden');
    const apiError = Object.assign(new Error('HTTP-Code: 403 Message: … headers …'), {
      code: 403,
      body: JSON.stringify({ message: 'namespaces "forbidden" is forbidden: User "x" cannot get resource "namespaces"' }),
    });
    reads[0]?.reject(apiError);
    const error = await Promise.resolve(pending).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(NamespaceUnavailableError);
    expect(error).toMatchObject({ result: 'error' });
    expect((error as Error).message).toContain('HTTP 403: namespaces "forbidden" is forbidden');
    expect(results).toEqual(['error']);
  });
});

describe('namespaceInfoOf', () => {
  it('is synchronous on a hit and carries the opt-in label, the labels and the default templates', () => {
    const { lookup } = lookupWith({ known: { shop: OPTED_IN } });
    expect(namespaceInfoOf(lookup, 'shop')).toEqual({ optedIn: true, labels: OPTED_IN.labels, defaultTemplates: ['log-collector'] });
  });

  it('on a miss resolves to the read namespace, or to "unknown" when it does not exist', async () => {
    const { lookup, reads } = lookupWith();
    const found = namespaceInfoOf(lookup, 'new-shop');
    const missing = namespaceInfoOf(lookup, 'gone');
    reads[0]?.resolve(OPTED_IN);
    reads[1]?.resolve(undefined);
    await expect(found).resolves.toEqual({ optedIn: true, labels: OPTED_IN.labels, defaultTemplates: ['log-collector'] });
    await expect(missing).resolves.toEqual({ defaultTemplates: undefined });
  });

  it('never reads for a request without a namespace', () => {
    const { lookup, reads } = lookupWith();
    expect(namespaceInfoOf(lookup, '')).toEqual({ defaultTemplates: undefined });
    expect(reads).toHaveLength(0);
  });
});
