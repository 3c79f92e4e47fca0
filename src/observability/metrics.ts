import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Every metric of the process, on a registry of its own (no globals: tests build their own). */
export interface Metrics {
  registry: Registry;
  admissions: Counter<'result' | 'reason'>;
  injections: Counter<'template'>;
  problems: Counter<'reason'>;
  duration: Histogram<'result'>;
  badRequests: Counter<'code'>;
  templateReloads: Counter<'result'>;
  templateLoadErrors: Gauge;
  templatesLoaded: Gauge;
  clusterTemplateUpdates: Counter<'result'>;
  templateStatusWrites: Counter<'result'>;
  certificateNotAfter: Gauge;
  certificateReloads: Counter<'result'>;
  caNotAfter: Gauge;
  certificateRotations: Counter<'action'>;
  planCache: Counter<'result'>;
  namespaceReads: Counter<'result'>;
  events: Counter<'reason' | 'result'>;
  missedInjections: Gauge;
  missedInjectionEvictions: Counter<'result'>;
  missedInjectionGivenUp: Gauge;
  reconcilerLeader: Gauge;
  reconcilerWatchedPods: Gauge;
}

export function createMetrics(options: { processMetrics: boolean } = { processMetrics: true }): Metrics {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'sidecar_injector_' });
  const registers = [registry];
  return {
    registry,
    admissions: new Counter({
      name: 'sidecar_injector_admissions_total',
      help: 'Admission reviews answered, by result (injected, skipped, denied) and reason.',
      labelNames: ['result', 'reason'],
      registers,
    }),
    injections: new Counter({
      name: 'sidecar_injector_injections_total',
      help: 'Templates injected into pods, by template.',
      labelNames: ['template'],
      registers,
    }),
    problems: new Counter({
      name: 'sidecar_injector_problems_total',
      help: 'Problems found in injection requests (unknown template, conflict, bad override…), by reason.',
      labelNames: ['reason'],
      registers,
    }),
    duration: new Histogram({
      name: 'sidecar_injector_admission_duration_seconds',
      help: 'Time from the request body being read to the response being written.',
      labelNames: ['result'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers,
    }),
    badRequests: new Counter({
      name: 'sidecar_injector_bad_requests_total',
      help: 'Requests to /mutate refused with a 4xx, by error code.',
      labelNames: ['code'],
      registers,
    }),
    templateReloads: new Counter({
      name: 'sidecar_injector_template_reloads_total',
      help: 'Template (re)loads, by result (success, failure; on failure the last good set stays).',
      labelNames: ['result'],
      registers,
    }),
    templateLoadErrors: new Gauge({
      name: 'sidecar_injector_template_load_errors',
      help: 'Errors of the last read of the templates directory (0 when it loaded; otherwise the last good set, if any, stays in force).',
      registers,
    }),
    templatesLoaded: new Gauge({
      name: 'sidecar_injector_templates_loaded',
      help: 'Templates in the set in force.',
      registers,
    }),
    clusterTemplateUpdates: new Counter({
      name: 'sidecar_injector_cluster_template_updates_total',
      help: 'SidecarTemplate resource changes taken in, by result (valid, invalid: its last valid version stays; deleted).',
      labelNames: ['result'],
      registers,
    }),
    templateStatusWrites: new Counter({
      name: 'sidecar_injector_template_status_writes_total',
      help: 'SidecarTemplate status writes, by result (success, conflict: another replica wrote first, failure: retried).',
      labelNames: ['result'],
      registers,
    }),
    certificateNotAfter: new Gauge({
      name: 'sidecar_injector_certificate_expiry_timestamp_seconds',
      help: 'notAfter of the serving certificate in force, as a Unix timestamp.',
      registers,
    }),
    events: new Counter({
      name: 'sidecar_injector_events_total',
      help: 'Kubernetes Events about injection problems, by event reason and result (created, rate_limited, dropped, error).',
      labelNames: ['reason', 'result'],
      registers,
    }),
    missedInjections: new Gauge({
      name: 'sidecar_injector_missed_injections',
      help: 'Pods that ask for injection but were stored without it (created while the webhook was unreachable), as the reconciler sees them now.',
      registers,
    }),
    missedInjectionEvictions: new Counter({
      name: 'sidecar_injector_missed_injection_evictions_total',
      help: 'Evictions by the reconciler (--reconcile-missed=delete) of pods that missed their injection, so their controller recreates them injected, by result (evicted; blocked: a PodDisruptionBudget refused, retried later; gone; error: retried later).',
      labelNames: ['result'],
      registers,
    }),
    missedInjectionGivenUp: new Gauge({
      name: 'sidecar_injector_missed_injection_given_up_controllers',
      help: 'Controllers whose evicted pods came back without their sidecars --reconcile-attempts times; the reconciler no longer evicts their pods (leader only).',
      registers,
    }),
    reconcilerLeader: new Gauge({
      name: 'sidecar_injector_reconciler_leader',
      help: '1 while this replica holds the reconciler Lease (it alone evicts and writes Events), else 0.',
      registers,
    }),
    reconcilerWatchedPods: new Gauge({
      name: 'sidecar_injector_reconciler_watched_pods',
      help: "Pods in the reconciler's cache (unfinished pods outside the excluded namespaces).",
      registers,
    }),
    planCache: new Counter({
      name: 'sidecar_injector_plan_cache_lookups_total',
      help: 'Injection plans looked up in the memo of pods with equal views, by result (hit, miss).',
      labelNames: ['result'],
      registers,
    }),
    namespaceReads: new Counter({
      name: 'sidecar_injector_namespace_reads_total',
      help: 'Namespaces read from the API because the informer had not seen them yet (a pod admitted right after its namespace was created), by result (found, not_found, timeout, error).',
      labelNames: ['result'],
      registers,
    }),
    certificateReloads: new Counter({
      name: 'sidecar_injector_certificate_reloads_total',
      help: 'Serving certificate (re)loads, by result.',
      labelNames: ['result'],
      registers,
    }),
    caNotAfter: new Gauge({
      name: 'sidecar_injector_ca_expiry_timestamp_seconds',
      help: 'notAfter of the CA that signed the serving certificate in force (self-managed mode), as a Unix timestamp.',
      registers,
    }),
    certificateRotations: new Counter({
      name: 'sidecar_injector_certificate_rotations_total',
      help: 'Changes this process wrote to the self-managed certificate Secret, by action (create, renew_leaf, start_ca_rollover, finish_ca_rollover, drop_expired_cas).',
      labelNames: ['action'],
      registers,
    }),
  };
}
