import { join } from 'node:path';

/** Settings of `sidecar-injector serve`, validated and frozen. */
export interface Config {
  host: string;
  port: number;
  metricsPort: number;
  certDir: string;
  certFile: string;
  keyFile: string;
  createCerts: boolean;
  certHosts: string[];
  certMode: 'files' | 'self-managed';
  namespace: string;
  certSecret: string;
  webhookConfiguration: string;
  certValiditySeconds: number;
  caValiditySeconds: number;
  caOverlapSeconds: number;
  certCheckIntervalSeconds: number;
  templatesDir: string;
  onProblem: 'warn' | 'deny';
  defaultTemplates: string[];
  nativeSidecars: boolean;
  maxBodyBytes: number;
  maxConnections: number;
  logLevel: string;
  shutdownDelaySeconds: number;
  shutdownTimeoutSeconds: number;
  reloadPollSeconds: number;
  printExamples: boolean;
  kubeconfig: string;
  clusterTemplates: boolean;
  events: boolean;
  eventIntervalSeconds: number;
  reconcileMissed: 'off' | 'report' | 'delete';
  reconcileExcludeNamespaces: string[];
  reconcileLease: string;
  reconcileLeaseDurationSeconds: number;
  reconcileBackoffSeconds: number;
  reconcileBackoffMaxSeconds: number;
  reconcileAttempts: number;
}

type Kind = 'string' | 'integer' | 'boolean' | 'list';

interface Option {
  key: keyof Config;
  flag: string;
  kind: Kind;
  default: string;
  help: string;
  allowed?: readonly string[];
  min?: number;
  max?: number;
}

/** One table drives flags, environment variables, defaults and `--help`. */
export const OPTIONS: readonly Option[] = [
  { key: 'host', flag: 'host', kind: 'string', default: '0.0.0.0', help: 'address to listen on' },
  { key: 'port', flag: 'port', kind: 'integer', default: '8443', min: 0, max: 65535, help: 'HTTPS port of /mutate, /healthz, /readyz, /metrics' },
  { key: 'metricsPort', flag: 'metrics-port', kind: 'integer', default: '0', min: 0, max: 65535, help: 'extra plain-HTTP port for /metrics only (0 = none)' },
  { key: 'certDir', flag: 'cert-dir', kind: 'string', default: 'certs', help: 'directory of tls.crt and tls.key (and ca.crt)' },
  { key: 'certFile', flag: 'cert-file', kind: 'string', default: '', help: 'serving certificate (default <cert-dir>/tls.crt)' },
  { key: 'keyFile', flag: 'key-file', kind: 'string', default: '', help: 'serving key (default <cert-dir>/tls.key)' },
  { key: 'createCerts', flag: 'create-certs', kind: 'boolean', default: 'false', help: 'generate a CA and serving certificate into <cert-dir> when none is there (local use)' },
  { key: 'certHosts', flag: 'cert-hosts', kind: 'list', default: 'localhost,127.0.0.1', help: 'SANs of a generated serving certificate (--create-certs, --cert-mode=self-managed: the Service DNS names)' },
  { key: 'certMode', flag: 'cert-mode', kind: 'string', default: 'files', allowed: ['files', 'self-managed'], help: 'files: serve --cert-file/--key-file (cert-manager, provided, local); self-managed: own CA and certificate in a Secret, CA written into the webhook configuration, rotated' },
  { key: 'namespace', flag: 'namespace', kind: 'string', default: '', help: "the webhook's own namespace (set it from the downward API); required with --cert-mode=self-managed, whose Secret lives there" },
  { key: 'certSecret', flag: 'cert-secret', kind: 'string', default: 'sidecar-injector-certs', help: 'name of the Secret of the self-managed certificates' },
  { key: 'webhookConfiguration', flag: 'webhook-configuration', kind: 'string', default: 'sidecar-injector', help: "MutatingWebhookConfiguration whose caBundle (every webhook's) the self-managed mode keeps current" },
  { key: 'certValiditySeconds', flag: 'cert-validity', kind: 'integer', default: String(90 * 86400), min: 10, max: 10 * 365 * 86400, help: 'lifetime of a self-managed serving certificate in seconds; renewed when a third is left' },
  { key: 'caValiditySeconds', flag: 'ca-validity', kind: 'integer', default: String(3650 * 86400), min: 20, max: 100 * 365 * 86400, help: 'lifetime of a self-managed CA in seconds; rolled over when a third is left' },
  { key: 'caOverlapSeconds', flag: 'ca-overlap', kind: 'integer', default: '3600', min: 1, max: 365 * 86400, help: 'seconds a new CA is in caBundle (as seen by this replica) before it signs the serving certificate' },
  { key: 'certCheckIntervalSeconds', flag: 'cert-check-interval', kind: 'integer', default: '10', min: 1, max: 3600, help: 'seconds between checks of the self-managed Secret (renewals, other replicas\' changes, caBundle)' },
  { key: 'templatesDir', flag: 'templates-dir', kind: 'string', default: 'templates', help: 'directory of SidecarTemplate YAML files, watched for changes' },
  { key: 'kubeconfig', flag: 'kubeconfig', kind: 'string', default: '', help: 'kubeconfig for reading namespaces and SidecarTemplates (default: the in-cluster service account when running in a pod, else no API access: namespace labels and annotations are then not read)' },
  { key: 'clusterTemplates', flag: 'cluster-templates', kind: 'boolean', default: 'true', help: 'also serve SidecarTemplate resources of the cluster (when the process has API access; readiness waits for their first list)' },
  { key: 'onProblem', flag: 'on-problem', kind: 'string', default: 'warn', allowed: ['warn', 'deny'], help: 'unknown/disallowed templates, bad overrides, name conflicts: warn and skip, or deny the pod' },
  { key: 'defaultTemplates', flag: 'default-templates', kind: 'list', default: '', help: 'templates for inject=true and opted-in namespaces without their own list' },
  { key: 'nativeSidecars', flag: 'native-sidecars', kind: 'boolean', default: 'true', help: 'inject native-mode templates as initContainers with restartPolicy Always (Kubernetes >= 1.29); false = as regular containers' },
  { key: 'events', flag: 'events', kind: 'boolean', default: 'true', help: "with API access: a Warning Event on the pod's workload (Deployment, StatefulSet, CronJob…) when its pods are refused, skipped or only partly injected because of a problem, and on the webhook's own Pod (POD_NAME, POD_NAMESPACE, POD_UID) when its templates directory turns invalid" },
  { key: 'eventIntervalSeconds', flag: 'event-interval', kind: 'integer', default: '300', min: 1, max: 86400, help: 'at most one such Event per workload and reason in this many seconds (per replica)' },
  { key: 'reconcileMissed', flag: 'reconcile-missed', kind: 'string', default: 'off', allowed: ['off', 'report', 'delete'], help: 'watch pods that asked for injection but lack it (created while the webhook was unreachable): report (metric, Event) or also evict those with a controller so they are recreated injected; needs --namespace (its Lease)' },
  { key: 'reconcileExcludeNamespaces', flag: 'reconcile-exclude-namespaces', kind: 'list', default: 'kube-system,kube-public,kube-node-lease', help: "namespaces the reconciler ignores: the webhook configuration's excluded namespaces (the chart passes its list; --namespace is added)" },
  { key: 'reconcileLease', flag: 'reconcile-lease', kind: 'string', default: 'sidecar-injector-reconciler', help: 'Lease in --namespace that elects the one replica whose reconciler acts (evicts, writes Events)' },
  { key: 'reconcileLeaseDurationSeconds', flag: 'reconcile-lease-duration', kind: 'integer', default: '15', min: 2, max: 600, help: 'seconds a Lease not renewed stays with its holder; the holder renews every duration/7.5 and steps down after 2/3 of it without a renewal (at 15: every 2 s, after 10 s)' },
  { key: 'reconcileBackoffSeconds', flag: 'reconcile-backoff', kind: 'integer', default: '30', min: 1, max: 3600, help: 'seconds of the first wait before evicting again the pods of a controller whose replacement came back without its sidecars, and before retrying an eviction a PodDisruptionBudget refused; doubled each time' },
  { key: 'reconcileBackoffMaxSeconds', flag: 'reconcile-backoff-max', kind: 'integer', default: '600', min: 1, max: 86400, help: 'longest such wait' },
  { key: 'reconcileAttempts', flag: 'reconcile-attempts', kind: 'integer', default: '3', min: 1, max: 100, help: "replacements of a controller's evicted pods that may come back without their sidecars before the reconciler gives up on it (metric, Event)" },
  { key: 'maxBodyBytes', flag: 'max-body-bytes', kind: 'integer', default: String(6 * 1024 * 1024), min: 1024, max: 64 * 1024 * 1024, help: 'largest AdmissionReview accepted, in bytes (an UPDATE review carries two objects of up to 3 MiB)' },
  { key: 'maxConnections', flag: 'max-connections', kind: 'integer', default: '1000', min: 1, max: 1_000_000, help: 'open HTTPS connections at most; further ones are closed as they arrive, and the apiserver counts that call as failed (failurePolicy decides). A connection that has not finished its TLS handshake 5 s after it opened, or whose request head is not complete 5 s after it began, is closed; idle keep-alive connections between requests stay up to 120 s' },
  { key: 'logLevel', flag: 'log-level', kind: 'string', default: 'info', allowed: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], help: 'log level' },
  { key: 'shutdownDelaySeconds', flag: 'shutdown-delay', kind: 'integer', default: '5', min: 0, max: 300, help: 'on SIGTERM/SIGINT, seconds to keep serving while /readyz says "shutting down" (every answer says Connection: close) before listening stops, so the endpoint is withdrawn first; a second signal ends the delay' },
  { key: 'shutdownTimeoutSeconds', flag: 'shutdown-timeout', kind: 'integer', default: '20', min: 0, max: 300, help: 'after the delay, seconds to let in-flight requests finish before their connections are cut' },
  { key: 'printExamples', flag: 'print-examples', kind: 'boolean', default: 'false', help: 'print commands to try the running webhook (used by npm start)' },
  { key: 'reloadPollSeconds', flag: 'reload-poll', kind: 'integer', default: '30', min: 0, max: 3600, help: 'seconds between re-reads of templates and certificates besides file watching (0 = watch only)' },
];

export function envName(option: Option): string {
  return `SIDECAR_INJECTOR_${option.flag.toUpperCase().replace(/-/g, '_')}`;
}

export class ConfigError extends Error {}

function convert(option: Option, raw: string, origin: string): unknown {
  const where = `${origin}: `;
  switch (option.kind) {
    case 'string':
      if (option.allowed && !option.allowed.includes(raw)) {
        throw new ConfigError(`${where}"${raw}" is not one of ${option.allowed.join(', ')}`);
      }
      return raw;
    case 'integer': {
      if (!/^\d+$/.test(raw)) throw new ConfigError(`${where}"${raw}" is not a whole number`);
      const value = Number(raw);
      if ((option.min !== undefined && value < option.min) || (option.max !== undefined && value > option.max)) {
        throw new ConfigError(`${where}${value} is outside ${option.min}..${option.max}`);
      }
      return value;
    }
    case 'boolean':
      if (raw === 'true' || raw === '') return true;
      if (raw === 'false') return false;
      throw new ConfigError(`${where}"${raw}" is not true or false`);
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
  }
}

/**
 * Builds the Config from flags (`--name value`, `--name=value`, `--flag` for
 * booleans) over environment variables over defaults. Pure: env is passed in.
 */
export function loadConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Readonly<Config> {
  const byFlag = new Map(OPTIONS.map((o) => [o.flag, o]));
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument "${arg}"`);
    const [name = '', inline] = arg.slice(2).split(/=(.*)/s, 2);
    const negated = name.startsWith('no-') && byFlag.get(name.slice(3))?.kind === 'boolean';
    const option = byFlag.get(negated ? name.slice(3) : name);
    if (option === undefined) throw new ConfigError(`unknown flag --${name} (see --help)`);
    if (negated) flags.set(option.flag, 'false');
    else if (inline !== undefined) flags.set(option.flag, inline);
    else if (option.kind === 'boolean') flags.set(option.flag, 'true');
    else {
      const next = argv[i + 1];
      if (next === undefined) throw new ConfigError(`--${name} needs a value`);
      flags.set(option.flag, next);
      i += 1;
    }
  }
  const config: Record<string, unknown> = {};
  for (const option of OPTIONS) {
    const fromFlag = flags.get(option.flag);
    const fromEnv = env[envName(option)];
    const origin = fromFlag !== undefined ? `--${option.flag}` : fromEnv !== undefined ? envName(option) : `default of --${option.flag}`;
    config[option.key] = convert(option, fromFlag ?? fromEnv ?? option.default, origin);
  }
  const result = config as unknown as Config;
  if (result.certFile === '') result.certFile = join(result.certDir, 'tls.crt');
  if (result.keyFile === '') result.keyFile = join(result.certDir, 'tls.key');
  if (result.reconcileMissed !== 'off' && result.namespace === '') {
    throw new ConfigError('--reconcile-missed needs --namespace (SIDECAR_INJECTOR_NAMESPACE): its Lease lives there');
  }
  if (result.reconcileBackoffMaxSeconds < result.reconcileBackoffSeconds) {
    throw new ConfigError(`--reconcile-backoff-max (${result.reconcileBackoffMaxSeconds}) is below --reconcile-backoff (${result.reconcileBackoffSeconds})`);
  }
  return Object.freeze(result);
}

export function usage(): string {
  const lines = OPTIONS.map((o) => {
    const value = o.kind === 'boolean' ? '' : o.allowed ? `=${o.allowed.join('|')}` : `=${o.kind.toUpperCase()}`;
    return `  --${o.flag}${value}\n      ${o.help} [env ${envName(o)}; default ${o.default === '' ? '(none)' : o.default}]`;
  });
  return lines.join('\n');
}
