// The injection record never takes a pod's annotations past the apiserver's
// 256 KiB (the sum of the keys' and values' UTF-8 bytes): at the limit the pod
// is injected, one byte over it is refused with a message that says so.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { ANNOTATION_LIMIT_BYTES } from '../../src/inject/annotation-budget.js';
import type { InjectionSettings, NamespaceInfo } from '../../src/inject/decide.js';
import type { Pod } from '../../src/inject/kube-types.js';
import { planInjection, type InjectionOutcome } from '../../src/inject/plan.js';
import { PlanCache } from '../../src/server/plan-cache.js';
import type { TemplateSet } from '../../src/templates/model.js';
import { builtInTemplates } from '../support/templates.js';

const STATUS = 'sidecar.example/status';
const INJECT = 'sidecar.example/inject';
const BLOB = 'example.com/blob';
const ns: NamespaceInfo = { defaultTemplates: undefined };
const bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

let templates: TemplateSet;
beforeAll(async () => {
  templates = await builtInTemplates();
});

function pod(annotations: Record<string, string>): Pod {
  return { metadata: { name: 'web', annotations }, spec: { containers: [{ name: 'app', image: 'app:1' }] } };
}

function plan(annotations: Record<string, string>, settings: Partial<InjectionSettings> = {}): InjectionOutcome {
  return planInjection(
    { operation: 'CREATE', resource: { group: '', version: 'v1', resource: 'pods' }, namespace: 'shop', pod: pod(annotations) },
    templates,
    { onProblem: 'warn', defaultTemplates: [], nativeSidecars: true, ...settings },
    ns,
  );
}

/** The record the patch writes, from a pod well under the limit. */
function recordOf(outcome: InjectionOutcome): string {
  if (outcome.result !== 'injected') throw new Error(`not injected: ${JSON.stringify(outcome)}`);
  const operations = JSON.parse(outcome.patch) as Array<{ path: string; value: unknown }>;
  const record = operations.find((o) => o.path === '/metadata/annotations/sidecar.example~1status');
  if (typeof record?.value !== 'string') throw new Error(`no record in ${outcome.patch}`);
  return record.value;
}

/** The bytes left for other annotations on a pod asking for `asked` once the record is added. */
function roomBeside(asked: string): number {
  const record = recordOf(plan({ [INJECT]: asked }));
  return ANNOTATION_LIMIT_BYTES - (bytes(INJECT) + bytes(asked) + bytes(STATUS) + bytes(record) + bytes(BLOB));
}

/** Annotations asking for `asked` plus a blob of `fill` that leaves `spare` bytes under the limit once the record is added. */
function annotationsLeaving(spare: number, asked: string, fill = 'x'): Record<string, string> {
  const room = roomBeside(asked) - spare;
  const unit = bytes(fill);
  if (room % unit !== 0) throw new Error(`room ${room} is not a multiple of ${unit}`);
  return { [INJECT]: asked, [BLOB]: fill.repeat(room / unit) };
}

const total = (annotations: Record<string, string>): number => Object.entries(annotations).reduce((sum, [k, v]) => sum + bytes(k) + bytes(v), 0);

describe('the annotation budget (256 KiB, keys and values in bytes)', () => {
  it('is the apiserver\'s TotalAnnotationSizeLimitB', () => {
    expect(ANNOTATION_LIMIT_BYTES).toBe(262_144);
  });

  it('injects a pod whose annotations come to exactly the limit with the record', () => {
    const annotations = annotationsLeaving(0, 'log-collector');
    const outcome = plan(annotations);
    expect(outcome.result).toBe('injected');
    expect(total({ ...annotations, [STATUS]: recordOf(outcome) })).toBe(ANNOTATION_LIMIT_BYTES);
  });

  it('refuses one byte over, whatever --on-problem says, naming the sizes and the limit', () => {
    const annotations = annotationsLeaving(-1, 'log-collector');
    for (const onProblem of ['warn', 'deny'] as const) {
      const outcome = plan(annotations, { onProblem });
      expect(outcome).toMatchObject({ result: 'denied', reason: 'annotations_too_large' });
      if (outcome.result !== 'denied') throw new Error('unreachable');
      expect(outcome.message).toBe(
        `sidecar injection refused: the pod's annotations would total ${ANNOTATION_LIMIT_BYTES + 1} bytes with the injection record, over the limit of ${ANNOTATION_LIMIT_BYTES}` +
          ` (${STATUS} would take ${bytes(STATUS) + bytes(recordOf(plan({ [INJECT]: 'log-collector' })))} bytes; the API server refuses a pod whose annotation keys and values exceed ${ANNOTATION_LIMIT_BYTES} bytes in all)`,
      );
    }
  });

  it('counts bytes, not characters: a multi-byte blob that fits in characters is refused', () => {
    // "é" is two bytes: the same number of characters as the fitting pod's blob is far over the limit.
    const fitting = annotationsLeaving(0, 'log-collector');
    const chars = [...(fitting[BLOB] as string)].length;
    expect(plan({ ...fitting, [BLOB]: 'é'.repeat(chars) }).result).toBe('denied');
    // Two bytes per character, up to the limit exactly (or one byte short when the room is odd).
    expect(plan(annotationsLeaving(roomBeside('log-collector') % 2, 'log-collector', 'é')).result).toBe('injected');
  });

  it('counts the record that replaces an old one once, at its new size', () => {
    // A pod created with a hand-written record naming nothing it has: the record is replaced, not added.
    const annotations = annotationsLeaving(0, 'log-collector');
    const outcome = plan({ ...annotations, [STATUS]: 'y'.repeat(100_000) });
    expect(outcome.result).toBe('injected');
  });

  it('the plan cache tells pods apart by the size of the annotations the plan does not read', () => {
    const cache = new PlanCache({ onProblem: 'warn', defaultTemplates: [], nativeSidecars: true }, 16);
    const facts = (annotations: Record<string, string>) => ({
      operation: 'CREATE',
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'shop',
      pod: pod(annotations),
    });
    expect(cache.plan(facts(annotationsLeaving(0, 'log-collector')), templates, ns).result).toBe('injected');
    expect(cache.plan(facts(annotationsLeaving(-1, 'log-collector')), templates, ns).result).toBe('denied');
    expect(cache.plan(facts(annotationsLeaving(0, 'log-collector')), templates, ns).result).toBe('injected');
  });

  it('does not stand in the way of a pod that only gets a smaller record or none', () => {
    // Nothing requested: no record is written, so a pod already over the limit is the apiserver's to refuse.
    expect(plan({ [BLOB]: 'x'.repeat(ANNOTATION_LIMIT_BYTES) }).result).toBe('skipped');
  });
});
