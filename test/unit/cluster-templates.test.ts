import { describe, expect, it } from '@jest/globals';
import { ClusterTemplates, statusDiffers, type SidecarTemplateObject, type SidecarTemplateStatus } from '../../src/templates/cluster-templates.js';

const NOW = new Date('2026-11-27T10:00:00.123Z');
const LATER = new Date('2026-11-27T10:05:00Z');

function spec(version: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { version, containers: [{ name: 'audit', image: 'registry.example/audit:1', env: [{ name: 'GREETING', value: 'hello' }] }], ...extra };
}

/** A spec the CRD accepts but the webhook rejects: a mount of a volume the template does not define. */
const BROKEN = spec('2.0.0', { containers: [{ name: 'audit', image: 'x', volumeMounts: [{ name: 'nowhere', mountPath: '/x' }] }] });

function resource(name: string, generation: number, body: unknown, status?: SidecarTemplateStatus, uid = 'uid-1'): SidecarTemplateObject {
  return { metadata: { name, uid, generation }, spec: body, ...(status ? { status } : {}) };
}

const versions = (cluster: ClusterTemplates): Record<string, string> =>
  Object.fromEntries(cluster.active().map(({ template }) => [template.name, template.version]));

describe('each SidecarTemplate resource is judged on its own', () => {
  it('a valid resource is in force, named SidecarTemplate/<name>, and its status says Valid=True for its generation', () => {
    const cluster = new ClusterTemplates();
    expect(cluster.upsert(resource('audit', 1, spec('1.0.0')))).toBe(true);
    expect(versions(cluster)).toEqual({ audit: '1.0.0' });
    expect(cluster.active()[0]?.template.source).toBe('SidecarTemplate/audit');

    const status = cluster.desiredStatus('audit', undefined, undefined, NOW);
    expect(status).toEqual({
      observedGeneration: 1,
      activeGeneration: 1,
      activeVersion: '1.0.0',
      activeSpec: spec('1.0.0'),
      conditions: [
        { type: 'Valid', status: 'True', reason: 'Valid', message: 'the template is valid and in force', observedGeneration: 1, lastTransitionTime: '2026-11-27T10:00:00Z' },
      ],
    });
  });

  it('an invalid edit keeps the last valid version in force and reports the error with the field', () => {
    const cluster = new ClusterTemplates();
    cluster.upsert(resource('audit', 1, spec('1.0.0')));
    const before = cluster.desiredStatus('audit', undefined, undefined, NOW);

    expect(cluster.upsert(resource('audit', 2, BROKEN, before))).toBe(false);
    expect(versions(cluster)).toEqual({ audit: '1.0.0' });
    const status = cluster.desiredStatus('audit', undefined, before, LATER);
    expect(status).toMatchObject({ observedGeneration: 2, activeGeneration: 1, activeVersion: '1.0.0', activeSpec: spec('1.0.0') });
    const condition = status.conditions?.[0];
    expect(condition).toMatchObject({ type: 'Valid', status: 'False', reason: 'Invalid', observedGeneration: 2, lastTransitionTime: '2026-11-27T10:05:00Z' });
    expect(condition?.message).toContain('SidecarTemplate/audit: template "audit": spec.containers[0].volumeMounts[0].name: mounts volume "nowhere"');
    expect(condition?.message).toContain('version 1.0.0 (generation 1) stays in force');
  });

  it('a fix puts the new version in force and Valid back to True', () => {
    const cluster = new ClusterTemplates();
    cluster.upsert(resource('audit', 1, spec('1.0.0')));
    cluster.upsert(resource('audit', 2, BROKEN));
    expect(cluster.upsert(resource('audit', 3, spec('3.0.0')))).toBe(true);
    expect(versions(cluster)).toEqual({ audit: '3.0.0' });
    expect(cluster.desiredStatus('audit', undefined, undefined, NOW).conditions?.[0]).toMatchObject({ status: 'True', observedGeneration: 3 });
  });

  it('an invalid first version is not in force and says so', () => {
    const cluster = new ClusterTemplates();
    expect(cluster.upsert(resource('audit', 1, BROKEN))).toBe(false);
    expect(cluster.active()).toEqual([]);
    const status = cluster.desiredStatus('audit', undefined, undefined, NOW);
    expect(status.activeVersion).toBeUndefined();
    expect(status.conditions?.[0]?.message).toContain('no valid version: the template is not in force');
  });

  it('a resource name that is not a template name (dots) is reported on its status', () => {
    const cluster = new ClusterTemplates();
    cluster.upsert(resource('audit.v2', 1, spec('1.0.0')));
    expect(cluster.active()).toEqual([]);
    expect(cluster.desiredStatus('audit.v2', undefined, undefined, NOW).conditions?.[0]?.message).toContain('metadata.name: must match pattern');
  });

  it('unknown spec fields (the CRD keeps them) are judged by the webhook', () => {
    const cluster = new ClusterTemplates();
    cluster.upsert(resource('audit', 1, spec('1.0.0', { sidecars: [] })));
    expect(cluster.problems('audit').map((p) => `${p.field}: ${p.message}`)).toEqual(['spec.sidecars: is not a known field']);
  });

  it('a replica that never saw the valid version serves the one recorded in the status (activeSpec)', () => {
    const first = new ClusterTemplates();
    first.upsert(resource('audit', 1, spec('1.0.0')));
    const recorded = first.desiredStatus('audit', undefined, undefined, NOW);

    const restarted = new ClusterTemplates();
    expect(restarted.upsert(resource('audit', 2, BROKEN, recorded))).toBe(true);
    expect(versions(restarted)).toEqual({ audit: '1.0.0' });
    // A status-only event that brings the recorded version later is taken in too.
    const late = new ClusterTemplates();
    late.upsert(resource('audit', 2, BROKEN));
    expect(late.active()).toEqual([]);
    expect(late.upsert(resource('audit', 2, BROKEN, recorded))).toBe(true);
    expect(versions(late)).toEqual({ audit: '1.0.0' });
  });

  it('status-only changes do not recompile or change what is in force', () => {
    const cluster = new ClusterTemplates();
    cluster.upsert(resource('audit', 1, spec('1.0.0')));
    const key = cluster.active()[0]?.key;
    expect(cluster.upsert(resource('audit', 1, spec('1.0.0'), cluster.desiredStatus('audit', undefined, undefined, NOW)))).toBe(false);
    expect(cluster.active()[0]?.key).toBe(key);
  });

  it('a deleted and recreated resource does not inherit the old version', () => {
    const cluster = new ClusterTemplates();
    cluster.upsert(resource('audit', 1, spec('1.0.0')));
    expect(cluster.remove('audit')).toBe(true);
    expect(cluster.active()).toEqual([]);
    cluster.upsert(resource('audit', 1, spec('1.0.0')));
    cluster.upsert(resource('audit', 1, BROKEN, undefined, 'uid-2'));
    expect(cluster.active()).toEqual([]);
  });

  it('the status names the file template of the same name it takes precedence over, or falls back to', () => {
    const cluster = new ClusterTemplates();
    cluster.upsert(resource('audit', 1, spec('1.0.0')));
    expect(cluster.desiredStatus('audit', 'templates/audit.yaml', undefined, NOW).conditions?.[0]?.message).toBe(
      'the template is valid and in force; it takes precedence over the file template templates/audit.yaml',
    );
    const broken = new ClusterTemplates();
    broken.upsert(resource('audit', 1, BROKEN));
    expect(broken.desiredStatus('audit', 'templates/audit.yaml', undefined, NOW).conditions?.[0]?.message).toContain(
      'the file template templates/audit.yaml is used instead',
    );
  });
});

describe('status writes only when something but timestamps changed', () => {
  const cluster = new ClusterTemplates();
  cluster.upsert(resource('audit', 1, spec('1.0.0')));
  const desired = cluster.desiredStatus('audit', undefined, undefined, NOW);

  it('equal status (keys in another order, as the apiserver returns them; another timestamp) → no write', () => {
    const sortKeys = (value: unknown): unknown =>
      Array.isArray(value)
        ? value.map(sortKeys)
        : value !== null && typeof value === 'object'
          ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, sortKeys(v)]))
          : value;
    const stored = sortKeys(desired) as SidecarTemplateStatus;
    expect(JSON.stringify(stored)).not.toBe(JSON.stringify(desired));
    const reordered: SidecarTemplateStatus = {
      conditions: desired.conditions?.map((c) => ({ ...c, lastTransitionTime: '2020-01-01T00:00:00Z' })),
      activeSpec: desired.activeSpec,
      activeVersion: desired.activeVersion,
      activeGeneration: desired.activeGeneration,
      observedGeneration: desired.observedGeneration,
    };
    expect(statusDiffers(stored, desired)).toBe(false);
    expect(statusDiffers(reordered, desired)).toBe(false);
  });

  it('no status yet, another generation or another message → write', () => {
    expect(statusDiffers(undefined, desired)).toBe(true);
    expect(statusDiffers({ ...desired, observedGeneration: 0 }, desired)).toBe(true);
    expect(statusDiffers(cluster.desiredStatus('audit', 'templates/audit.yaml', undefined, NOW), desired)).toBe(true);
  });

  it('keeps lastTransitionTime while the condition status stays the same', () => {
    const again = cluster.desiredStatus('audit', undefined, desired, LATER);
    expect(again.conditions?.[0]?.lastTransitionTime).toBe('2026-11-27T10:00:00Z');
  });
});
