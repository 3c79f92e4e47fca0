// The chart without a cluster: helm lint, helm template over the values
// matrix (ci/*-values.yaml), the schema refusing bad values, the generated
// parts staying in sync (built-in templates, deploy/, the values table), and
// the MutatingWebhookConfiguration being exactly the one the e2e suite
// registers. The apiserver checks are in test/e2e/helm.test.ts.
import { beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { ROOT, TEMPLATES_DIR } from '../support/paths.js';
import { webhookConfiguration } from '../e2e/support/webhook-configuration.js';
import {
  CHART_DIR,
  CI_VALUES_DIR,
  ciValuesFiles,
  ensureHelm,
  findObject,
  helm,
  parseObjects,
  renderChart,
  run,
  templateArgs,
  type K8sObject,
} from './support/helm.js';

jest.setTimeout(60_000);

const CA_PEM = '-----BEGIN CERTIFICATE-----\nMIIBxzCCAW2gAwIBAgIUCAFE\n-----END CERTIFICATE-----\n';
const CA_B64 = Buffer.from(CA_PEM).toString('base64');

type Json = Record<string, unknown>;
const spec = (o: K8sObject) => o['spec'] as Json;
const podSpec = (deployment: K8sObject) => (spec(deployment)['template'] as Json)['spec'] as Json;
const firstContainer = (deployment: K8sObject) => (podSpec(deployment)['containers'] as Json[])[0] as Json;

beforeAll(async () => {
  await helm(['version', '--short']); // builds helm once, outside the per-test timeouts
}, 900_000);

describe('helm lint', () => {
  it('passes --strict with the defaults and with every ci values file', async () => {
    const result = await helm(['lint', CHART_DIR, '--strict', '--quiet', '--with-subcharts']);
    expect(result.stdout + result.stderr).not.toMatch(/\[(ERROR|WARNING)\]/);
    expect(result).toMatchObject({ code: 0 });
    for (const file of ciValuesFiles()) {
      const withValues = await helm(['lint', CHART_DIR, '--strict', '--quiet', '--values', join(CI_VALUES_DIR, file)]);
      expect({ file, ...withValues }).toMatchObject({ file, code: 0 });
    }
  });
});

describe('helm template over the values matrix', () => {
  it.each(ciValuesFiles())('%s renders valid objects with the hardened pod', async (file) => {
    const objects = parseObjects(await renderChart({ valuesFiles: [join(CI_VALUES_DIR, file)] }));
    const kinds = objects.map((o) => o.kind);
    for (const kind of ['Deployment', 'Service', 'ConfigMap', 'MutatingWebhookConfiguration', 'ClusterRole', 'ClusterRoleBinding']) {
      expect(kinds).toContain(kind);
    }
    for (const o of objects) {
      expect(o.apiVersion).toMatch(/\S/);
      expect(o.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
    }
    const deployment = findObject(objects, 'Deployment');
    const container = firstContainer(deployment);
    expect(container['securityContext']).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container['livenessProbe']).toMatchObject({ httpGet: { path: '/healthz', port: 'https', scheme: 'HTTPS' } });
    expect(container['readinessProbe']).toMatchObject({ httpGet: { path: '/readyz', port: 'https', scheme: 'HTTPS' } });
    expect(container['args']).toEqual(expect.arrayContaining(['serve', '--port=8443', '--templates-dir=/etc/sidecar-injector/templates']));
    // Every mode gets its certificate one way: files from a Secret, or the API.
    const args = container['args'] as string[];
    const selfManaged = args.includes('--cert-mode=self-managed');
    expect(args.includes('--cert-dir=/etc/sidecar-injector/tls')).toBe(!selfManaged);
    expect(objects.some((o) => o.kind === 'Role' && o.metadata.name.endsWith('-certificates'))).toBe(selfManaged);
    expect(findObject(objects, 'ClusterRole')['rules']).toContainEqual({ apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] });
  });

  it('RBAC: exactly what the enabled features use', async () => {
    const rules = async (set: string[]): Promise<Json[]> =>
      findObject(parseObjects(await renderChart({ release: 'r1', namespace: 'si', set })), 'ClusterRole')['rules'] as Json[];
    const namespaces = { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] };
    expect(await rules([])).toEqual([
      namespaces,
      { apiGroups: ['sidecar.example'], resources: ['sidecartemplates'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['sidecar.example'], resources: ['sidecartemplates/status'], verbs: ['update', 'patch'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create'] },
      { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['get'] },
      { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get'] },
      { apiGroups: ['admissionregistration.k8s.io'], resources: ['mutatingwebhookconfigurations'], resourceNames: ['r1-sidecar-injector'], verbs: ['get', 'update'] },
    ]);
    const off = ['config.clusterTemplates=false', 'config.events=false', 'certificates.mode=cert-manager'];
    expect(await rules(off)).toEqual([namespaces]);
    expect(await rules([...off, 'config.reconcileMissed=report'])).toEqual([
      namespaces,
      { apiGroups: [''], resources: ['events'], verbs: ['create'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] },
    ]);
    expect(await rules([...off, 'config.reconcileMissed=delete'])).toEqual([
      namespaces,
      { apiGroups: [''], resources: ['events'], verbs: ['create'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] },
      { apiGroups: [''], resources: ['pods/eviction'], verbs: ['create'] },
    ]);
    const reconciler = findObject(parseObjects(await renderChart({ release: 'r1', namespace: 'si', set: ['config.reconcileMissed=report'] })), 'Role', 'r1-sidecar-injector-reconciler');
    expect(reconciler.metadata.namespace).toBe('si');
    expect(reconciler['rules']).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['r1-sidecar-injector-reconciler'], verbs: ['get', 'update'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
    ]);
    expect(parseObjects(await renderChart({ release: 'r1', namespace: 'si' })).map((o) => o.metadata.name)).not.toContain('r1-sidecar-injector-reconciler');
    const role = findObject(parseObjects(await renderChart({ release: 'r1', namespace: 'si' })), 'Role', 'r1-sidecar-injector-certificates');
    expect(role.metadata.namespace).toBe('si');
    expect(role['rules']).toEqual([
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['r1-sidecar-injector-certs'], verbs: ['get', 'update'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
    ]);
  });

  it('the Pod names itself through the downward API, and may write its TemplatesInvalid Events whenever --events is on', async () => {
    const render = async (set: string[]) => parseObjects(await renderChart({ release: 'r1', namespace: 'si', set }));
    const identity = [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'POD_UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
    ];
    const defaults = await render([]);
    expect(firstContainer(findObject(defaults, 'Deployment'))['env']).toEqual(identity);
    expect(firstContainer(findObject(defaults, 'Deployment'))['args']).toContain('--events=true');
    // The ClusterRole covers the release namespace, where the Pod is.
    expect(findObject(defaults, 'ClusterRole')['rules']).toContainEqual({ apiGroups: [''], resources: ['events'], verbs: ['create'] });
    const withExtra = await render(['extraEnv[0].name=SIDECAR_INJECTOR_LOG_LEVEL', 'extraEnv[0].value=debug']);
    expect(firstContainer(findObject(withExtra, 'Deployment'))['env']).toEqual([...identity, { name: 'SIDECAR_INJECTOR_LOG_LEVEL', value: 'debug' }]);
  });

  it('defaults: 2 replicas, spread, PDB, Service 443 → https, self-managed certificates for the Service names, no caBundle, no optional objects', async () => {
    const objects = parseObjects(await renderChart({ release: 'r1', namespace: 'si' }));
    const deployment = findObject(objects, 'Deployment', 'r1-sidecar-injector');
    expect(spec(deployment)['replicas']).toBe(2);
    expect(podSpec(deployment)['topologySpreadConstraints']).toEqual([
      expect.objectContaining({ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway' }),
    ]);
    expect(spec(findObject(objects, 'PodDisruptionBudget'))['maxUnavailable']).toBe(1);
    expect(spec(findObject(objects, 'Service'))['ports']).toEqual([{ name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' }]);
    expect(firstContainer(deployment)['args']).toEqual(
      expect.arrayContaining([
        '--namespace=si',
        '--cert-mode=self-managed',
        '--cert-secret=r1-sidecar-injector-certs',
        '--webhook-configuration=r1-sidecar-injector',
        '--cert-hosts=r1-sidecar-injector,r1-sidecar-injector.si,r1-sidecar-injector.si.svc,r1-sidecar-injector.si.svc.cluster.local',
        '--cluster-templates=true',
        '--events=true',
        '--reconcile-missed=off',
      ]),
    );
    expect(objects.map((o) => o.kind)).not.toContain('Certificate');
    const mwc = findObject(objects, 'MutatingWebhookConfiguration');
    expect(mwc.metadata.annotations).toBeUndefined();
    for (const webhook of mwc['webhooks'] as Json[]) {
      expect(webhook['clientConfig']).toEqual({ service: { name: 'r1-sidecar-injector', namespace: 'si', path: '/mutate', port: 443 } });
    }
    expect(objects.map((o) => o.kind)).not.toEqual(expect.arrayContaining(['NetworkPolicy']));
    expect(objects.map((o) => o.kind)).not.toContain('ServiceMonitor');
    // The templates ConfigMap is mounted where --templates-dir points.
    const volumes = podSpec(deployment)['volumes'] as Json[];
    expect(volumes).toEqual(expect.arrayContaining([{ name: 'templates', configMap: { name: 'r1-sidecar-injector-templates' } }]));
    expect(volumes.map((v) => v['name'])).not.toContain('tls');
  });

  it('cert-manager mode: a self-signed Issuer, a Certificate for the Service names, the Secret mounted, inject-ca-from', async () => {
    const objects = parseObjects(await renderChart({ release: 'r1', namespace: 'si', set: ['certificates.mode=cert-manager'] }));
    const certificate = findObject(objects, 'Certificate');
    expect(spec(certificate)).toMatchObject({
      secretName: 'r1-sidecar-injector-tls',
      dnsNames: ['r1-sidecar-injector.si.svc', 'r1-sidecar-injector.si.svc.cluster.local'],
      issuerRef: { kind: 'Issuer', name: 'r1-sidecar-injector' },
    });
    expect(findObject(objects, 'Issuer')['spec']).toEqual({ selfSigned: {} });
    expect(findObject(objects, 'MutatingWebhookConfiguration').metadata.annotations).toEqual({ 'cert-manager.io/inject-ca-from': 'si/r1-sidecar-injector' });
    const deployment = findObject(objects, 'Deployment');
    expect(podSpec(deployment)['volumes']).toEqual(expect.arrayContaining([{ name: 'tls', secret: { secretName: 'r1-sidecar-injector-tls' } }]));
    expect(firstContainer(deployment)['args']).toContain('--cert-dir=/etc/sidecar-injector/tls');
  });

  it('self-managed with webhook.url: the URL host joins the certificate names', async () => {
    const objects = parseObjects(await renderChart({ valuesFiles: [join(CI_VALUES_DIR, 'url-self-managed-values.yaml')] }));
    const args = firstContainer(findObject(objects, 'Deployment'))['args'] as string[];
    expect(args.find((a) => a.startsWith('--cert-hosts='))?.split(',').at(-1)).toBe('127.0.0.1');
    for (const webhook of findObject(objects, 'MutatingWebhookConfiguration')['webhooks'] as Json[]) {
      expect(webhook['clientConfig']).toEqual({ url: 'https://127.0.0.1:8443/mutate' });
    }
  });

  it('the MutatingWebhookConfiguration is exactly the e2e suite\'s (test/e2e/support/webhook-configuration.ts)', async () => {
    const url = 'https://127.0.0.1:8443/mutate';
    const set = [`webhook.url=${url}`, 'certificates.mode=provided', 'certificates.provided.secretName=tls', `certificates.provided.caBundle=${CA_B64}`];
    const mwc = findObject(parseObjects(await renderChart({ release: 'sidecar-injector', namespace: 'injector', set })), 'MutatingWebhookConfiguration');
    const expected = webhookConfiguration({ name: 'sidecar-injector', url, caBundlePem: CA_PEM, ownNamespace: 'injector' });
    expect(mwc['webhooks']).toEqual(expected['webhooks']);
    expect(mwc.metadata.annotations).toBeUndefined();
  });

  it('`npm run cluster:webhook` registers the chart\'s configuration for a local URL, its own namespace excluded (default sidecar-injector, or --namespace)', async () => {
    const url = 'https://127.0.0.1:8443/mutate';
    const caFile = join(mkdtempSync(join(tmpdir(), 'cluster-webhook-')), 'ca.crt');
    writeFileSync(caFile, CA_PEM);
    const set = [`webhook.url=${url}`, 'certificates.mode=provided', 'certificates.provided.secretName=tls', `certificates.provided.caBundle=${CA_B64}`];
    for (const [args, namespace] of [[[], 'sidecar-injector'], [['--namespace', 'injector'], 'injector']] as const) {
      const printed = await run(join(ROOT, 'node_modules', '.bin', 'tsx'), ['test/e2e/harness/cluster-cli.ts', 'webhook', ...args, url, caFile]);
      expect(printed.stderr).toBe('');
      const mwc = findObject(parseObjects(await renderChart({ release: 'sidecar-injector', namespace, set })), 'MutatingWebhookConfiguration');
      const registered = JSON.parse(printed.stdout) as Json;
      expect(registered['webhooks']).toEqual(mwc['webhooks']);
      for (const webhook of registered['webhooks'] as Json[]) {
        expect((webhook['namespaceSelector'] as { matchExpressions: Json[] }).matchExpressions[0]).toEqual({
          key: 'kubernetes.io/metadata.name',
          operator: 'NotIn',
          values: ['kube-system', 'kube-node-lease', 'kube-public', namespace],
        });
      }
    }
    rmSync(dirname(caFile), { recursive: true });
  });

  it("the reconciler judges the pods the webhook configuration sends: its excluded namespaces are the webhooks', from one helper, and its other selectors are the rule the process mirrors", async () => {
    for (const set of [[], ['webhook.excludeNamespaces={monitoring,kube-system}']]) {
      const objects = parseObjects(await renderChart({ release: 'r1', namespace: 'si', set: [...set, 'config.reconcileMissed=delete'] }));
      const args = firstContainer(findObject(objects, 'Deployment'))['args'] as string[];
      const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
      const excluded = flag('reconcile-exclude-namespaces')?.split(',');
      expect(excluded).toEqual(['kube-system', 'kube-node-lease', 'kube-public', 'si', ...(set.length > 0 ? ['monitoring'] : [])]);
      expect(flag('namespace')).toBe('si');
      expect(flag('reconcile-lease')).toBe('r1-sidecar-injector-reconciler');
      const webhooks = findObject(objects, 'MutatingWebhookConfiguration')['webhooks'] as Json[];
      for (const webhook of webhooks) {
        const [exclusion, ...others] = (webhook['namespaceSelector'] as { matchExpressions: Json[] }).matchExpressions;
        expect(exclusion).toEqual({ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: excluded });
        // Beyond exclusion, the pod webhooks select on exactly what src/inject/webhook-scope.ts reads.
        if (webhook['name'] === 'workload.sidecar.example') continue;
        expect(others).toEqual([{ key: 'sidecar.example/injection', operator: webhook['name'] === 'namespace.sidecar.example' ? 'In' : 'NotIn', values: ['enabled'] }]);
        const conditions = (webhook['matchConditions'] as Json[]).map((c) => c['expression']);
        const optedOut = "object.metadata.?annotations[?'sidecar.example/inject'].orValue('') == 'false'";
        const asked = "object.metadata.?annotations[?'sidecar.example/inject'].orValue('') != ''";
        expect(conditions).toEqual(webhook['name'] === 'namespace.sidecar.example' ? [`!(${optedOut})`] : [`${asked} && !(${optedOut})`]);
      }
    }
    // Off: no reconciler flags beyond the mode, as before.
    const off = firstContainer(findObject(parseObjects(await renderChart({ release: 'r1', namespace: 'si' })), 'Deployment'))['args'] as string[];
    expect(off.filter((a) => a.startsWith('--reconcile-'))).toEqual(['--reconcile-missed=off']);
  });

  it('values reach the flags, the webhook and the objects', async () => {
    const objects = parseObjects(await renderChart({ valuesFiles: [join(CI_VALUES_DIR, 'provided-values.yaml')] }));
    const deployment = findObject(objects, 'Deployment');
    const container = firstContainer(deployment);
    expect(container['args']).toEqual(
      expect.arrayContaining(['--on-problem=deny', '--default-templates=log-collector,http-prober', '--native-sidecars=false', '--log-level=debug']),
    );
    expect(container['image']).toBe('ghcr.io/example/sidecar-injector@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef');
    expect(podSpec(deployment)['volumes']).toEqual(expect.arrayContaining([{ name: 'tls', secret: { secretName: 'my-webhook-tls' } }]));
    expect(objects.map((o) => o.kind)).not.toContain('PodDisruptionBudget');
    expect(objects.map((o) => o.kind)).not.toContain('Certificate');
    for (const webhook of findObject(objects, 'MutatingWebhookConfiguration')['webhooks'] as Json[]) {
      expect(webhook).toMatchObject({ failurePolicy: 'Ignore', timeoutSeconds: 5, reinvocationPolicy: 'Never' });
      expect((webhook['namespaceSelector'] as { matchExpressions: Json[] }).matchExpressions[0]).toEqual({
        key: 'kubernetes.io/metadata.name',
        operator: 'NotIn',
        values: ['kube-system', 'kube-node-lease', 'kube-public', 'sidecar-injector', 'monitoring'],
      });
    }
  });

  it('networkPolicy and serviceMonitor render when enabled, with the metrics port', async () => {
    const objects = parseObjects(await renderChart({ valuesFiles: [join(CI_VALUES_DIR, 'networkpolicy-servicemonitor-values.yaml')] }));
    const policy = findObject(objects, 'NetworkPolicy');
    expect(spec(policy)['policyTypes']).toEqual(['Ingress', 'Egress']);
    expect(JSON.stringify(spec(policy)['ingress'])).toContain('"port":"metrics"');
    const monitor = findObject(objects, 'ServiceMonitor');
    expect(spec(monitor)['endpoints']).toEqual([expect.objectContaining({ port: 'metrics', scheme: 'http', path: '/metrics' })]);
    expect(spec(findObject(objects, 'Service'))['ports']).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'metrics', port: 9090 })]));
  });

  it('the helm test hook dry-runs a pod asking for the template in tests.namespace, with create-pods RBAC there only', async () => {
    const objects = parseObjects(await renderChart({ release: 'r1', namespace: 'si' }));
    const pod = findObject(objects, 'Pod', 'r1-sidecar-injector-test');
    expect(pod.metadata.annotations?.['helm.sh/hook']).toBe('test');
    const args = ((spec(pod)['containers'] as Json[])[0] as Json)['args'] as string[];
    expect(args).toEqual(expect.arrayContaining(['run', '--namespace=default', '--dry-run=server', '--annotations=sidecar.example/inject=log-collector']));
    const role = findObject(objects, 'Role', 'r1-sidecar-injector-test');
    expect(role.metadata.namespace).toBe('default');
    expect(role['rules']).toEqual([{ apiGroups: [''], resources: ['pods'], verbs: ['create'] }]);
  });

  it('graceful stop: a preStop sleep, then the drain flags, a readiness probe that withdraws a signalled pod within the delay, all inside the grace period', async () => {
    const deployment = findObject(parseObjects(await renderChart({ release: 'r1', namespace: 'si' })), 'Deployment');
    const container = firstContainer(deployment);
    expect(container['lifecycle']).toEqual({ preStop: { sleep: { seconds: 5 } } });
    const args = container['args'] as string[];
    expect(args).toEqual(expect.arrayContaining(['--shutdown-delay=10', '--shutdown-timeout=10']));
    const seconds = (flag: string) => Number(args.find((a) => a.startsWith(`${flag}=`))?.split('=')[1]);
    const probe = container['readinessProbe'] as { periodSeconds: number; failureThreshold: number };
    // A container signalled without a pod deletion is withdrawn by the probe alone, with half the delay left for propagation.
    expect(probe.periodSeconds * probe.failureThreshold).toBeLessThanOrEqual(seconds('--shutdown-delay') / 2);
    // The kubelet's grace period covers the hook, the delay and the in-flight timeout.
    expect(5 + seconds('--shutdown-delay') + seconds('--shutdown-timeout')).toBeLessThanOrEqual(podSpec(deployment)['terminationGracePeriodSeconds'] as number);

    const set = ['preStopSleepSeconds=0', 'config.shutdownDelaySeconds=3', 'config.shutdownTimeoutSeconds=4', 'terminationGracePeriodSeconds=7'];
    const custom = firstContainer(findObject(parseObjects(await renderChart({ set })), 'Deployment'));
    expect(custom['lifecycle']).toBeUndefined();
    expect(custom['args']).toEqual(expect.arrayContaining(['--shutdown-delay=3', '--shutdown-timeout=4']));
  });

  it('config.maxConnections reaches --max-connections, the process default unless set', async () => {
    const args = async (set: string[]) => firstContainer(findObject(parseObjects(await renderChart({ set })), 'Deployment'))['args'] as string[];
    expect(await args([])).toContain('--max-connections=1000');
    expect(await args(['config.maxConnections=5000'])).toContain('--max-connections=5000');
    const { OPTIONS } = await import('../../src/config/config.js');
    expect(OPTIONS.find((o) => o.flag === 'max-connections')?.default).toBe('1000');
  });

  it('fails clearly on combinations the schema cannot express', async () => {
    const failures: Array<[string[], RegExp]> = [
      [['certificates.mode=provided', `certificates.provided.caBundle=${CA_B64}`], /certificates\.provided\.secretName is required/],
      [['certificates.mode=provided', 'certificates.provided.secretName=s'], /certificates\.provided\.caBundle .* is required/],
      [['webhook.url=https://127.0.0.1:8443/mutate', 'certificates.mode=cert-manager'], /webhook\.url needs certificates\.mode=self-managed or provided/],
      [
        ['terminationGracePeriodSeconds=24'],
        /preStopSleepSeconds \(5\) \+ config\.shutdownDelaySeconds \(10\) \+ config\.shutdownTimeoutSeconds \(10\) = 25 exceeds terminationGracePeriodSeconds \(24\)/,
      ],
    ];
    for (const [set, message] of failures) {
      const result = await helm(templateArgs({ set }));
      expect({ set, code: result.code }).toEqual({ set, code: 1 });
      expect(result.stderr).toMatch(message);
    }
  });
});

describe('values.schema.json refuses bad values', () => {
  const rejected: Array<[string, string[], RegExp]> = [
    ['an unknown top-level key', ['replicas=2'], /additional properties 'replicas' not allowed|replicas/],
    ['an unknown nested key', ['webhook.failurePolicyy=Fail'], /failurePolicyy/],
    ['an unknown key deeper down', ['certificates.provided.secret=x'], /secret/],
    ['a string for an integer', ['replicaCount=two'], /replicaCount/],
    ['a string for a boolean', ['config.nativeSidecars=maybe'], /nativeSidecars/],
    ['a failurePolicy outside the enum', ['webhook.failurePolicy=Sometimes'], /failurePolicy/],
    ['timeoutSeconds above 30', ['webhook.timeoutSeconds=31'], /timeoutSeconds/],
    ['timeoutSeconds below 1', ['webhook.timeoutSeconds=0'], /timeoutSeconds/],
    ['an unknown certificate mode', ['certificates.mode=vault'], /mode/],
    ['an unknown reconcile mode', ['config.reconcileMissed=fix'], /reconcileMissed/],
    ['an unknown on-problem', ['config.onProblem=ignore'], /onProblem/],
    ['a webhook.url that is not https', ['webhook.url=http://127.0.0.1:8443/mutate'], /url/],
    ['zero replicas', ['replicaCount=0'], /replicaCount/],
    ['a negative preStop sleep', ['preStopSleepSeconds=-1'], /preStopSleepSeconds/],
    ['a shutdown delay that is not a number', ['config.shutdownDelaySeconds=soon'], /shutdownDelaySeconds/],
    ['a template file name without .yaml', ['sidecarTemplates.foo=x'], /sidecarTemplates|foo/],
  ];
  it.each(rejected)('%s', async (_what, set, message) => {
    const result = await helm(templateArgs({ set }));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/values don't meet the specifications of the schema/);
    expect(result.stderr).toMatch(message);
  });

  it('a wrong type from a values file (a list where an object goes)', async () => {
    const result = await run('bash', ['-c', `printf 'image: []\\n' | "$0" template x "$1" -f -`, await ensureHelm(), CHART_DIR]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/image/);
  });
});

describe('generated files have not drifted', () => {
  it("the chart's default sidecarTemplates are templates/*.yaml, byte for byte", () => {
    const values = parse(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as { sidecarTemplates: Record<string, string> };
    const files = readdirSync(TEMPLATES_DIR).filter((f) => f.endsWith('.yaml')).sort();
    expect(Object.keys(values.sidecarTemplates).sort()).toEqual(files);
    for (const file of files) expect({ file, text: values.sidecarTemplates[file] }).toEqual({ file, text: readFileSync(join(TEMPLATES_DIR, file), 'utf8') });
  });

  it('scripts/sync-chart-templates.sh --check passes', async () => {
    const result = await run('bash', [join(ROOT, 'scripts', 'sync-chart-templates.sh'), '--check']);
    expect({ code: result.code, out: result.stdout }).toEqual({ code: 0, out: '' });
  });

  it('deploy/ is what scripts/render-deploy.sh renders from the chart', async () => {
    const result = await run('bash', [join(ROOT, 'scripts', 'render-deploy.sh'), '--check'], { timeoutMs: 900_000 });
    expect({ code: result.code, diff: result.stdout }).toEqual({ code: 0, diff: '' });
  });

  it("the chart README's values table lists exactly the schema's keys with values.yaml's defaults", () => {
    const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8')) as Json;
    const values = parse(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as Json;
    const expected = new Map<string, string>();
    // Objects with their own closed property list are expanded; everything else is one row.
    const leafObjects = new Set(['resources', 'certificates.certManager.issuerRef']);
    const builtIn = (templates: unknown): string =>
      ['no', 'one', 'two', 'three', 'four', 'five', 'six'][Object.keys(templates as Json).length] ?? String(Object.keys(templates as Json).length);
    const walk = (node: Json, value: unknown, path: string): void => {
      const properties = node['properties'] as Record<string, Json> | undefined;
      if (node['additionalProperties'] === false && properties && !leafObjects.has(path)) {
        for (const [key, child] of Object.entries(properties)) walk(child, (value as Json | undefined)?.[key], path ? `${path}.${key}` : key);
        return;
      }
      expected.set(path, path === 'sidecarTemplates' ? `the ${builtIn(value)} built-in templates` : `\`${JSON.stringify(value)}\``);
    };
    walk(schema, values, '');
    const readme = readFileSync(join(CHART_DIR, 'README.md'), 'utf8');
    const rows = new Map<string, string>();
    for (const match of readme.matchAll(/^\| `([^`]+)` \| (.+?) \|/gm)) rows.set(match[1] as string, (match[2] as string).trim());
    expect(Object.fromEntries(rows)).toEqual(Object.fromEntries(expected));
  });
});
