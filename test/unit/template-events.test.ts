// Which Event a reload of the templates directory calls for on the webhook's
// own Pod (src/serve/template-events.ts): one Warning per distinct problem
// set, a Normal one on recovery, messages within the Event limit.
import { describe, expect, it } from '@jest/globals';
import type { CompiledTemplate, TemplateSet } from '../../src/templates/model.js';
import type { ReloadEvent } from '../../src/templates/store.js';
import { EVENT_MESSAGE_LIMIT, listWithin, podIdentity, TemplateEvents } from '../../src/serve/template-events.js';

const DIR = '/etc/sidecar-injector/templates';
const MISSING_IMAGE = `${DIR}/log-collector.yaml: template "log-collector": spec.containers[0].image: is required`;
const BAD_PORT = `${DIR}/prober.yaml: template "http-prober": spec.containers[0].ports[0].containerPort: must be integer`;

function set(names: string[], revision: string): TemplateSet {
  return { templates: new Map(names.map((name) => [name, {} as CompiledTemplate])), revision };
}
const loaded = (names: string[], revision: string, changed = true): ReloadEvent => ({ ok: true, set: set(names, revision), changed });
/** `kept` null: no valid set has loaded yet. */
const rejected = (errors: string[], kept: string | null = 'abc123'): Extract<ReloadEvent, { ok: false }> => ({ ok: false, errors, keptRevision: kept ?? undefined, repeated: false });

describe('template Events on the webhook Pod', () => {
  it('a directory that turns invalid after start: one Warning naming file, template and field, and the set kept', () => {
    const events = new TemplateEvents(DIR);
    expect(events.next(loaded(['log-collector'], 'abc123'))).toBeUndefined();
    expect(events.next(rejected([MISSING_IMAGE]))).toEqual({
      type: 'Warning',
      reason: 'TemplatesInvalid',
      message: `templates in ${DIR} rejected, the last good set (revision abc123) stays in force; 1 problem: ${MISSING_IMAGE}`,
    });
  });

  it('one Event per distinct problem set: re-reads of the same broken files say nothing, a new problem is told', () => {
    const events = new TemplateEvents(DIR);
    expect(events.next(rejected([MISSING_IMAGE]))?.reason).toBe('TemplatesInvalid');
    expect(events.next({ ...rejected([MISSING_IMAGE]), repeated: true })).toBeUndefined();
    expect(events.next(rejected([MISSING_IMAGE]))).toBeUndefined();
    const second = events.next(rejected([MISSING_IMAGE, BAD_PORT]));
    expect(second?.message).toContain(`2 problems: ${MISSING_IMAGE}; ${BAD_PORT}`);
  });

  it('a valid set after a Warning: one Normal TemplatesLoaded; the same problem later is told again', () => {
    const events = new TemplateEvents(DIR);
    events.next(rejected([MISSING_IMAGE]));
    expect(events.next(loaded(['http-prober', 'log-collector'], 'def456'))).toEqual({
      type: 'Normal',
      reason: 'TemplatesLoaded',
      message: `templates in ${DIR} loaded (revision def456), 2 in force: http-prober; log-collector`,
    });
    expect(events.next(loaded(['http-prober', 'log-collector'], 'def456', false))).toBeUndefined();
    expect(events.next(rejected([MISSING_IMAGE]))?.reason).toBe('TemplatesInvalid');
  });

  it('broken before any valid set: the Warning says the webhook is not ready', () => {
    expect(new TemplateEvents(DIR).next(rejected([MISSING_IMAGE], null))?.message).toContain('no valid set has loaded, the webhook is not ready; 1 problem');
  });

  it('many problems: whole ones while they fit, then how many more, within the Event limit', () => {
    const errors = Array.from({ length: 40 }, (_, i) => `${DIR}/t${i}.yaml: template "t${i}": spec.containers[0].image: is required`);
    const message = new TemplateEvents(DIR).next(rejected(errors))?.message ?? '';
    expect(message.length).toBeLessThanOrEqual(EVENT_MESSAGE_LIMIT);
    const shown = errors.filter((e) => message.includes(e)).length;
    expect(shown).toBeGreaterThan(0);
    expect(message.endsWith(` (+${40 - shown} more)`)).toBe(true);
    expect(errors.slice(0, shown).every((e) => message.includes(e))).toBe(true);
  });

  it('a single problem longer than the limit is cut with an ellipsis', () => {
    const message = listWithin('head', ['x'.repeat(5000), 'y']);
    expect(message.length).toBeLessThanOrEqual(EVENT_MESSAGE_LIMIT);
    expect(message).toMatch(/^head: x+… \(\+1 more\)$/);
  });
});

describe('the Pod identity from the downward API', () => {
  it('all of POD_NAME, POD_NAMESPACE and POD_UID, or none (running locally: no Event)', () => {
    expect(podIdentity({ POD_NAME: 'si-0', POD_NAMESPACE: 'injector', POD_UID: 'u-1' })).toEqual({ name: 'si-0', namespace: 'injector', uid: 'u-1' });
    expect(podIdentity({})).toBeUndefined();
    expect(podIdentity({ POD_NAME: 'si-0', POD_NAMESPACE: 'injector' })).toBeUndefined();
    expect(podIdentity({ POD_NAME: 'si-0', POD_NAMESPACE: 'injector', POD_UID: '' })).toBeUndefined();
  });
});
