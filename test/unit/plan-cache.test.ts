import { beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { AdmissionFacts, InjectionSettings } from '../../src/inject/decide.js';
import type { Pod } from '../../src/inject/kube-types.js';
import { planInjection } from '../../src/inject/plan.js';
import { PlanCache } from '../../src/server/plan-cache.js';
import type { TemplateSet } from '../../src/templates/model.js';
import { builtInTemplates } from '../support/templates.js';

let templates: TemplateSet;
beforeAll(async () => {
  templates = await builtInTemplates();
});

const settings: InjectionSettings = { onProblem: 'warn', defaultTemplates: [], nativeSidecars: true };
const facts = (pod: Pod, namespace = 'shop'): AdmissionFacts => ({
  operation: 'CREATE',
  resource: { group: '', version: 'v1', resource: 'pods' },
  namespace,
  pod,
});

function controllerPod(suffix: string, inject = 'log-collector,egress-logger'): Pod {
  return {
    metadata: {
      generateName: 'web-7d4b9c6f5-',
      labels: { app: 'web', 'pod-template-hash': suffix },
      annotations: { 'sidecar.example/inject': inject, 'kubectl.kubernetes.io/restartedAt': suffix },
    },
    spec: {
      containers: [{ name: 'web', image: `registry.example/web:${suffix}`, env: [{ name: 'A', value: suffix }], volumeMounts: [{ name: 'tok', mountPath: '/t' }] }],
      volumes: [{ name: 'tok', projected: { sources: [] } }],
    },
  };
}

describe('PlanCache', () => {
  it('reuses the plan for pods that differ only in what planning cannot see', () => {
    const lookups: boolean[] = [];
    const cache = new PlanCache(settings, 16, (hit) => lookups.push(hit));
    const first = cache.plan(facts(controllerPod('a')), templates, { defaultTemplates: undefined });
    const second = cache.plan(facts(controllerPod('b')), templates, { defaultTemplates: undefined });
    expect(lookups).toEqual([false, true]);
    expect(second).toBe(first);
    expect(second).toEqual(planInjection(facts(controllerPod('b')), templates, settings, { defaultTemplates: undefined }));
  });

  it('misses when anything planning reads changes', () => {
    const lookups: boolean[] = [];
    const cache = new PlanCache(settings, 16, (hit) => lookups.push(hit));
    const ns = { defaultTemplates: undefined };
    cache.plan(facts(controllerPod('a')), templates, ns);
    cache.plan(facts(controllerPod('a'), 'other-namespace'), templates, ns);
    cache.plan(facts(controllerPod('a', 'http-prober')), templates, ns);
    cache.plan(facts(controllerPod('a')), templates, { defaultTemplates: ['x'] });
    const renamed = controllerPod('a');
    renamed.spec.containers[0]!.name = 'api';
    cache.plan(facts(renamed), templates, ns);
    const { ...copy } = templates;
    cache.plan(facts(controllerPod('a')), copy, ns);
    cache.plan(facts(controllerPod('a')), templates, { defaultTemplates: undefined, labels: { team: 'a' } });
    const otherAccount = controllerPod('a');
    otherAccount.spec.serviceAccountName = 'collector';
    cache.plan(facts(otherAccount), templates, ns);
    expect(lookups).toEqual([false, false, false, false, false, false, false, false]);
  });

  it('forgets the least recently used plan beyond its capacity', () => {
    const lookups: boolean[] = [];
    const cache = new PlanCache(settings, 2, (hit) => lookups.push(hit));
    const ns = { defaultTemplates: undefined };
    for (const namespace of ['a', 'b', 'a', 'c', 'a', 'b']) cache.plan(facts(controllerPod('x'), namespace), templates, ns);
    expect(lookups).toEqual([false, false, true, false, true, false]);
  });

  it('gives exactly what uncached planning gives, for generated pods', () => {
    const cache = new PlanCache(settings, 64);
    const name = fc.constantFrom('app', 'log-collector', 'side', 'http-prober');
    const pod = fc
      .record({
        names: fc.uniqueArray(name, { minLength: 1, maxLength: 3 }),
        inject: fc.constantFrom('log-collector', 'http-prober,egress-logger', 'true', 'nope', 'log-collector,http-prober'),
        mount: fc.boolean(),
        env: fc.boolean(),
        image: fc.string(),
      })
      .map(({ names, inject, mount, env, image }): Pod => ({
        metadata: { name: 'p', annotations: { 'sidecar.example/inject': inject } },
        spec: {
          containers: names.map((n) => ({
            name: n,
            image,
            ...(mount ? { volumeMounts: [{ name: 'v', mountPath: '/var/log/app' }] } : {}),
            ...(env ? { env: [{ name: 'HTTP_PROXY', value: image }] } : {}),
          })),
          ...(mount ? { volumes: [{ name: 'v' }] } : {}),
        },
      }));
    fc.assert(
      fc.property(pod, (p) => {
        expect(cache.plan(facts(p), templates, { defaultTemplates: undefined })).toEqual(planInjection(facts(p), templates, settings, { defaultTemplates: undefined }));
      }),
      { numRuns: 300 },
    );
  });
});
