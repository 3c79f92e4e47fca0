// The reconciler of missed injections, its pure parts and its Lease: which
// stored pods it judges (the webhook configuration's selection), what it
// keeps of each, when it may evict again, and one holder at a time.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import type { InjectionSettings, NamespaceInfo } from '../../src/inject/decide.js';
import { backoffDelay, EvictionBackoff } from '../../src/inject/eviction-backoff.js';
import { judgeStoredPod, missedTemplates, storedPodView, type StoredPodSource } from '../../src/inject/missed.js';
import { namespaceInfoFrom } from '../../src/inject/namespace.js';
import { sentToWebhook } from '../../src/inject/webhook-scope.js';
import { LeaderElector, type LeaseApi } from '../../src/kube/leader-election.js';
import { podFieldSelector } from '../../src/kube/pod-view-informer.js';
import type { TemplateSet } from '../../src/templates/model.js';
import { builtInTemplates } from '../support/templates.js';
import { waitFor } from '../support/wait.js';

let templates: TemplateSet;
beforeAll(async () => {
  templates = await builtInTemplates();
});

const settings: InjectionSettings = { onProblem: 'warn', defaultTemplates: ['http-prober'], nativeSidecars: true };
const scope = { excludedNamespaces: new Set(['kube-system', 'injector']) };
const plain = namespaceInfoFrom({ labels: {}, annotations: {} });
const optedIn = namespaceInfoFrom({ labels: { 'sidecar.example/injection': 'enabled' }, annotations: { 'sidecar.example/inject': 'log-collector' } });

/** A controller-made pod as the apiserver stores it, with plenty the reconciler does not need. */
function storedPod(namespace: string, inject: string | undefined): StoredPodSource {
  return {
    metadata: {
      name: 'web-5d9-abcde',
      generateName: 'web-5d9-',
      namespace,
      uid: 'pod-uid',
      resourceVersion: '42',
      labels: { app: 'web', 'pod-template-hash': '5d9' },
      annotations: { ...(inject === undefined ? {} : { 'sidecar.example/inject': inject }), 'kubectl.kubernetes.io/restartedAt': 'x' },
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d9', uid: 'rs-uid', controller: true, blockOwnerDeletion: true },
        { apiVersion: 'v1', kind: 'ConfigMap', name: 'other', uid: 'cm-uid' },
      ],
      managedFields: [{ manager: 'kube-controller-manager', operation: 'Update', fieldsV1: { 'f:metadata': {} } }],
    },
    spec: {
      serviceAccountName: 'web',
      containers: [
        {
          name: 'app',
          image: 'registry.example/app:1',
          env: [{ name: 'MODE', value: 'production' }],
          volumeMounts: [{ name: 'data', mountPath: '/data', readOnly: true }],
          resources: { requests: { cpu: '100m' } },
        },
      ],
      volumes: [{ name: 'data', emptyDir: {} }],
      tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' }],
    },
    status: { phase: 'Pending' },
  };
}

describe('the webhook configuration’s selection (sentToWebhook)', () => {
  const enabled = { 'sidecar.example/injection': 'enabled' };
  it.each([
    ['a pod asking by annotation, plain namespace', true, { 'sidecar.example/inject': 'log-collector' }, 'shop', {}],
    ['a pod not asking, plain namespace', false, {}, 'shop', {}],
    ['an empty annotation, plain namespace', false, { 'sidecar.example/inject': '' }, 'shop', {}],
    ['a pod not asking, opted-in namespace', true, {}, 'shop', enabled],
    ['an opt-out, opted-in namespace', false, { 'sidecar.example/inject': 'false' }, 'shop', enabled],
    ['"False" (CEL compares exactly), plain namespace', true, { 'sidecar.example/inject': 'False' }, 'shop', {}],
    ['a pod asking in an excluded namespace', false, { 'sidecar.example/inject': 'log-collector' }, 'injector', {}],
    ['an opted-in excluded namespace', false, {}, 'kube-system', enabled],
    ['a label other than enabled', false, {}, 'shop', { 'sidecar.example/injection': 'disabled' }],
  ])('%s → sent: %s', (_what, sent, annotations, namespace, labels) => {
    expect(sentToWebhook(annotations, namespace, labels, scope)).toBe(sent);
  });
});

describe('the stored pod view', () => {
  it('keeps identity, controller, phase and what planning reads; drops the rest', () => {
    const view = storedPodView(storedPod('shop', 'log-collector'));
    expect(view).toEqual({
      metadata: {
        name: 'web-5d9-abcde',
        generateName: 'web-5d9-',
        namespace: 'shop',
        uid: 'pod-uid',
        resourceVersion: '42',
        annotations: { 'sidecar.example/inject': 'log-collector' },
        // The size of the annotations left out, for the annotation budget (inject/annotation-budget.ts).
        droppedAnnotationBytes: 34,
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d9', uid: 'rs-uid', controller: true }],
      },
      spec: {
        serviceAccountName: 'web',
        containers: [{ name: 'app', env: [{ name: 'MODE' }], volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
        volumes: [{ name: 'data' }],
      },
      status: { phase: 'Pending' },
    });
  });

  it('judges as the whole pod does, and keeps a deletion from a watch (text) or a list (Date)', () => {
    const full = storedPod('shop', 'log-collector,http-prober');
    const view = storedPodView(full);
    expect(missedTemplates(view, 'shop', templates, settings, plain)).toEqual(missedTemplates(full as never, 'shop', templates, settings, plain));
    expect(missedTemplates(view, 'shop', templates, settings, plain)).toEqual(['log-collector', 'http-prober']);
    for (const deletionTimestamp of ['2026-11-27T10:00:00Z', new Date('2026-11-27T10:00:00Z')]) {
      const terminating = storedPod('shop', 'log-collector');
      terminating.metadata = { ...terminating.metadata, deletionTimestamp };
      expect(storedPodView(terminating).metadata.deletionTimestamp).toEqual(new Date('2026-11-27T10:00:00Z'));
      expect(judgeStoredPod(storedPodView(terminating), scope, templates, settings, plain)).toEqual({ kind: 'complete' });
    }
  });
});

describe('judgeStoredPod', () => {
  const judge = (namespace: string, inject: string | undefined, ns: NamespaceInfo) => judgeStoredPod(storedPodView(storedPod(namespace, inject)), scope, templates, settings, ns);

  it('misses what the webhook would inject now, with the namespace’s own defaults', () => {
    expect(judge('shop', 'log-collector', plain)).toEqual({ kind: 'missed', templates: ['log-collector'] });
    expect(judge('shop', undefined, optedIn)).toEqual({ kind: 'missed', templates: ['log-collector'] });
    expect(judge('shop', 'true', optedIn)).toEqual({ kind: 'missed', templates: ['log-collector'] });
  });

  it('leaves alone what the webhook configuration never sends: excluded namespaces, unasked pods of plain namespaces, opt-outs', () => {
    expect(judge('injector', 'log-collector', plain)).toEqual({ kind: 'out_of_scope' });
    // The global defaults would apply to inject=true, but this pod never asked.
    expect(judge('shop', undefined, plain)).toEqual({ kind: 'out_of_scope' });
    expect(judge('shop', 'false', optedIn)).toEqual({ kind: 'out_of_scope' });
  });

  it('never judges on a guess: an unknown namespace is judged later', () => {
    expect(judge('shop', undefined, namespaceInfoFrom(undefined))).toEqual({ kind: 'namespace_unknown' });
    expect(judge('shop', 'true', namespaceInfoFrom(undefined))).toEqual({ kind: 'namespace_unknown' });
  });

  it('a pod that asked for nothing injectable is complete', () => {
    expect(judge('shop', 'no-such-template', plain)).toEqual({ kind: 'complete' });
  });

  it('does not believe a status record the stored pod does not bear out', () => {
    const forged = storedPod('shop', 'log-collector');
    const record = { templates: [{ name: 'log-collector', version: '2.0.0' }], initContainers: ['log-collector'], volumes: ['shared-logs'] };
    (forged.metadata!.annotations as Record<string, string>)['sidecar.example/status'] = JSON.stringify(record);
    expect(judgeStoredPod(storedPodView(forged), scope, templates, settings, plain)).toEqual({ kind: 'missed', templates: ['log-collector'] });
    // The same record on a pod that has what it lists: complete.
    forged.spec!.initContainers = [{ name: 'log-collector', image: 'busybox', restartPolicy: 'Always' }];
    forged.spec!.volumes = [...(forged.spec!.volumes ?? []), { name: 'shared-logs', emptyDir: {} }];
    expect(judgeStoredPod(storedPodView(forged), scope, templates, settings, plain)).toEqual({ kind: 'complete' });
  });
});

describe('EvictionBackoff', () => {
  const settings = { initialMs: 1_000, maxMs: 5_000, attempts: 3 };

  it('waits 1, 2, 4… s capped', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(settings, n))).toEqual([1_000, 2_000, 4_000, 5_000, 5_000]);
  });

  it('doubles the wait for each replacement that comes back without its sidecars, and gives up after `attempts`', () => {
    const backoff = new EvictionBackoff(settings);
    expect(backoff.seen('rs', 5, true, 5)).toBe('none'); // no eviction yet: an original
    expect(backoff.readyAt('rs')).toBe(0);
    backoff.evicting('rs', 10);
    expect(backoff.seen('rs', 9, true, 11)).toBe('none'); // seen before the eviction: not a replacement
    expect(backoff.seen('rs', 12, true, 12)).toBe('backing_off');
    expect(backoff.readyAt('rs')).toBe(1_012);
    backoff.evicting('rs', 1_100);
    expect(backoff.seen('rs', 1_200, true, 1_200)).toBe('backing_off');
    expect(backoff.readyAt('rs')).toBe(3_200);
    backoff.evicting('rs', 3_300);
    expect(backoff.seen('rs', 3_400, true, 3_400)).toBe('gave_up');
    expect(backoff.readyAt('rs')).toBe(Infinity);
    expect(backoff.givenUp()).toBe(1);
    expect(backoff.seen('rs', 3_500, true, 3_500)).toBe('none');
    expect(backoff.readyAt('other')).toBe(0);
  });

  it('counts a replacement watched before the eviction is answered (the first one too), and forgets a refused eviction', () => {
    const backoff = new EvictionBackoff(settings);
    backoff.evicting('rs', 10);
    // The ReplicaSet's replacement arrives on the watch while the eviction request is still in flight.
    expect(backoff.seen('rs', 11, true, 11)).toBe('backing_off');
    const refused = new EvictionBackoff(settings);
    refused.evicting('rs', 10)(); // 429: no pod went
    expect(refused.seen('rs', 11, true, 11)).toBe('none');
    expect(refused.readyAt('rs')).toBe(0);
    refused.evicting('rs', 20);
    expect(refused.seen('rs', 21, true, 21)).toBe('backing_off');
    refused.evicting('rs', 2_000)(); // refused again later: the earlier eviction still dates the replacements
    expect(refused.seen('rs', 1_500, true, 2_100)).toBe('backing_off');
  });

  it('starts afresh when a replacement comes back injected', () => {
    const backoff = new EvictionBackoff(settings);
    backoff.evicting('rs', 10);
    expect(backoff.seen('rs', 20, true, 20)).toBe('backing_off');
    backoff.evicting('rs', 2_000);
    expect(backoff.seen('rs', 2_100, false, 2_100)).toBe('recovered');
    expect(backoff.readyAt('rs')).toBe(0);
  });

  it('forgets given-up controllers whose pods are gone, and idle ones only after the longest wait', () => {
    const backoff = new EvictionBackoff(settings);
    backoff.evicting('given-up', 0);
    for (let n = 1; n <= 3; n += 1) backoff.seen('given-up', n, true, n);
    backoff.evicting('idle', 0);
    backoff.prune(1_000, (controller) => controller === 'given-up');
    expect([backoff.givenUp(), backoff.readyAt('idle')]).toEqual([1, 0]);
    backoff.prune(1_000, () => false);
    expect(backoff.givenUp()).toBe(0);
    backoff.prune(5_001, () => false);
    expect(backoff.seen('idle', 5_002, true, 5_002)).toBe('none');
  });
});

describe('the pod watch’s field selector', () => {
  it('leaves out finished pods and the excluded namespaces', () => {
    expect(podFieldSelector(['kube-system', 'injector'])).toBe('status.phase!=Succeeded,status.phase!=Failed,metadata.namespace!=injector,metadata.namespace!=kube-system');
  });
});

describe('--reconcile-missed settings', () => {
  it('need --namespace, where the Lease lives, and a cap not below the first wait', () => {
    expect(() => loadConfig(['--reconcile-missed=report'], {})).toThrow(ConfigError);
    expect(() => loadConfig(['--reconcile-missed=report'], {})).toThrow('--reconcile-missed needs --namespace');
    expect(loadConfig(['--reconcile-missed=delete', '--namespace=injector'], {})).toMatchObject({
      reconcileLease: 'sidecar-injector-reconciler',
      reconcileLeaseDurationSeconds: 15,
      reconcileBackoffSeconds: 30,
      reconcileBackoffMaxSeconds: 600,
      reconcileAttempts: 3,
    });
    expect(() => loadConfig(['--reconcile-backoff=60', '--reconcile-backoff-max=30'], {})).toThrow('--reconcile-backoff-max (30) is below --reconcile-backoff (60)');
  });
});

/** One Lease with the apiserver's optimistic concurrency: a write must carry the stored resourceVersion. */
class FakeLeases {
  stored: { metadata: Record<string, unknown>; spec: Record<string, unknown> } | undefined;
  private version = 0;
  writes = 0;

  readonly api: LeaseApi = {
    readNamespacedLease: async () => {
      if (this.stored === undefined) throw Object.assign(new Error('not found'), { code: 404 });
      return structuredClone(this.stored) as never;
    },
    createNamespacedLease: async ({ body }) => {
      if (this.stored !== undefined) throw Object.assign(new Error('already exists'), { code: 409 });
      return this.store(body as never) as never;
    },
    replaceNamespacedLease: async ({ body }) => {
      const sent = body as unknown as { metadata: { resourceVersion?: string } };
      if (sent.metadata.resourceVersion !== this.stored?.metadata['resourceVersion']) throw Object.assign(new Error('conflict'), { code: 409 });
      return this.store(body as never) as never;
    },
  };

  private store(body: { metadata: Record<string, unknown>; spec: Record<string, unknown> }): unknown {
    this.version += 1;
    this.writes += 1;
    // As JSON on the wire: MicroTime values arrive as text.
    const wire = JSON.parse(JSON.stringify(body)) as { metadata: Record<string, unknown>; spec: Record<string, unknown> };
    this.stored = { metadata: { ...wire.metadata, resourceVersion: String(this.version) }, spec: wire.spec };
    return structuredClone(this.stored);
  }

  holder(): unknown {
    return this.stored?.spec['holderIdentity'];
  }
}

describe('LeaderElector (a fake Lease API with resourceVersion conflicts)', () => {
  const errors: unknown[] = [];
  function candidate(leases: FakeLeases, identity: string, clock: { now: number }, leading: Set<string>): LeaderElector {
    return new LeaderElector(leases.api, {
      namespace: 'injector',
      name: 'reconciler',
      identity,
      leaseDurationMs: 300,
      onStartedLeading: () => leading.add(identity),
      onStoppedLeading: () => leading.delete(identity),
      onError: (error) => errors.push(error),
      now: () => clock.now,
    });
  }

  it('of two candidates one leads; when it stops it releases the Lease and the other takes over without waiting for expiry', async () => {
    const leases = new FakeLeases();
    const leading = new Set<string>();
    const frozen = { now: 0 }; // no time passes: only a release lets the other in
    const a = candidate(leases, 'a', frozen, leading);
    const b = candidate(leases, 'b', frozen, leading);
    a.start();
    b.start();
    try {
      const first = await waitFor('a leader', () => (leading.size === 1 ? [...leading][0] : undefined));
      const writes = leases.writes;
      await waitFor('a renewal', () => (leases.writes > writes + 2 ? true : undefined));
      expect([...leading]).toEqual([first]);
      expect(leases.holder()).toBe(first);
      expect(leases.stored?.spec['leaseTransitions']).toBe(0);
      const [leader, other] = first === 'a' ? [a, b] : [b, a];
      expect([leader.isLeader(), other.isLeader()]).toEqual([true, false]);
      await leader.stop();
      expect(leading.has(first as string)).toBe(false);
      await waitFor('the other candidate to lead', () => (leading.has(other.identity) ? true : undefined));
      expect(leases.holder()).toBe(other.identity);
      expect(leases.stored?.spec['leaseTransitions']).toBe(1);
    } finally {
      await a.stop();
      await b.stop();
    }
    expect(errors).toEqual([]);
  });

  it('takes a Lease whose holder stopped renewing once it has looked unchanged for leaseDurationSeconds by its own clock', async () => {
    const leases = new FakeLeases();
    leases.stored = {
      metadata: { name: 'reconciler', namespace: 'injector', resourceVersion: '7' },
      // A renewTime far in the future: another machine's clock is never trusted.
      spec: { holderIdentity: 'crashed', leaseDurationSeconds: 2, renewTime: '2099-01-01T00:00:00.000000Z', leaseTransitions: 4 },
    };
    const leading = new Set<string>();
    const clock = { now: 0 };
    const b = candidate(leases, 'b', clock, leading);
    b.start();
    try {
      const writes = leases.writes;
      await new Promise((resolve) => setTimeout(resolve, 200)); // several attempts observe the holder
      expect([leading.size, leases.writes]).toEqual([0, writes]);
      clock.now = 2_001;
      await waitFor('b to take the expired Lease', () => (leading.has('b') ? true : undefined));
      expect(leases.stored?.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 5, leaseDurationSeconds: 1 });
      expect(leases.stored?.spec['renewTime']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    } finally {
      await b.stop();
    }
    expect(errors).toEqual([]);
  });
});
