import { beforeAll, describe, expect, it } from '@jest/globals';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import type { InjectionSettings } from '../../src/inject/decide.js';
import type { Pod } from '../../src/inject/kube-types.js';
import { missedTemplates } from '../../src/inject/missed.js';
import { planInjection } from '../../src/inject/plan.js';
import { injectionEvent } from '../../src/inject/workload-event.js';
import type { TemplateSet } from '../../src/templates/model.js';
import { KeyedRateLimiter } from '../../src/util/rate-limiter.js';
import { builtInTemplates } from '../support/templates.js';

const { applyPatch } = fastJsonPatch;

let templates: TemplateSet;
beforeAll(async () => {
  templates = await builtInTemplates();
});

const warn: InjectionSettings = { onProblem: 'warn', defaultTemplates: [], nativeSidecars: true };
const owner = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d9', uid: 'rs-uid', controller: true };

function pod(inject: string | undefined, ownerReferences: unknown[] = [owner]): Pod {
  return {
    metadata: { generateName: 'web-5d9-', ownerReferences, annotations: inject === undefined ? {} : { 'sidecar.example/inject': inject } },
    spec: { containers: [{ name: 'app', image: 'x' }] },
  };
}

const plan = (p: Pod, settings = warn) =>
  planInjection({ operation: 'CREATE', resource: { group: '', version: 'v1', resource: 'pods' }, namespace: 'shop', pod: p }, templates, settings, { defaultTemplates: undefined });

describe('events on the owning workload', () => {
  it('a skipped pod of a controller → SidecarInjectionSkipped on that controller, with the problem', () => {
    const p = pod('log-colector');
    expect(injectionEvent(p, 'shop', plan(p))).toEqual({
      namespace: 'shop',
      owner: { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d9', uid: 'rs-uid' },
      reason: 'SidecarInjectionSkipped',
      message: 'no sidecar injected: unknown template "log-colector" (known: egress-logger, http-interceptor, http-prober, log-collector)',
    });
  });

  it('partly injected → SidecarInjectionIncomplete; refused → SidecarInjectionRefused with the denial', () => {
    const partial = pod('log-collector,nope');
    expect(injectionEvent(partial, 'shop', plan(partial))).toMatchObject({
      reason: 'SidecarInjectionIncomplete',
      message: 'injected log-collector, but unknown template "nope" (known: egress-logger, http-interceptor, http-prober, log-collector)',
    });
    expect(injectionEvent(partial, 'shop', plan(partial, { ...warn, onProblem: 'deny' }))).toMatchObject({
      reason: 'SidecarInjectionRefused',
      message: expect.stringContaining('sidecar injection refused: unknown template "nope"'),
    });
  });

  it('nothing for clean injections, pods nobody asked about, and pods without a controller', () => {
    for (const p of [pod('log-collector'), pod(undefined), pod('nope', []), pod('nope', [{ ...owner, controller: false }])]) {
      expect(injectionEvent(p, 'shop', plan(p))).toBeUndefined();
    }
  });
});

describe('KeyedRateLimiter', () => {
  it('allows a key once per interval, keys independently, and forgets the oldest beyond its capacity', () => {
    const limiter = new KeyedRateLimiter(1000, 2);
    expect([limiter.allow('a', 0), limiter.allow('a', 999), limiter.allow('b', 999), limiter.allow('a', 1000)]).toEqual([true, false, true, true]);
    limiter.allow('c', 1001); // evicts b
    expect(limiter.allow('b', 1002)).toBe(true);
    expect(limiter.allow('c', 1003)).toBe(false);
  });
});

describe('missed injections', () => {
  it('a live pod that asked and lacks the sidecar misses it; once injected, it misses nothing', () => {
    const asked = pod('log-collector');
    expect(missedTemplates(asked, 'shop', templates, warn, { defaultTemplates: undefined })).toEqual(['log-collector']);
    const outcome = plan(asked);
    expect(outcome.result).toBe('injected');
    const injected = applyPatch(structuredClone(asked), JSON.parse(outcome.result === 'injected' ? outcome.patch : '[]') as Operation[]).newDocument;
    expect(missedTemplates(injected, 'shop', templates, warn, { defaultTemplates: undefined })).toEqual([]);
  });

  it('a record the pod does not bear out (written by hand, or left after the sidecar was removed) hides no miss', () => {
    const asked = pod('log-collector');
    const records = [
      { templates: [{ name: 'log-collector', version: '2.0.0' }], containers: [], initContainers: ['log-collector'], volumes: ['shared-logs'] },
      { templates: [{ name: 'log-collector', version: '2.0.0' }] },
    ];
    for (const record of records) {
      const forged = { ...asked, metadata: { ...asked.metadata, annotations: { ...asked.metadata.annotations, 'sidecar.example/status': JSON.stringify(record) } } };
      expect(missedTemplates(forged, 'shop', templates, warn, { defaultTemplates: undefined })).toEqual(['log-collector']);
    }
  });

  it('finished, terminating, unasked and problem-only pods miss nothing; --on-problem=deny does not hide a miss', () => {
    const none = { defaultTemplates: undefined };
    expect(missedTemplates({ ...pod('log-collector'), status: { phase: 'Succeeded' } }, 'shop', templates, warn, none)).toEqual([]);
    const terminating = pod('log-collector');
    terminating.metadata.deletionTimestamp = '2026-11-27T10:00:00Z';
    expect(missedTemplates(terminating, 'shop', templates, warn, none)).toEqual([]);
    expect(missedTemplates(pod(undefined), 'shop', templates, warn, none)).toEqual([]);
    expect(missedTemplates(pod('nope'), 'shop', templates, warn, none)).toEqual([]);
    expect(missedTemplates(pod('log-collector,nope'), 'shop', templates, { ...warn, onProblem: 'deny' }, none)).toEqual(['log-collector']);
  });
});
