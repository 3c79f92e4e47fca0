import { INJECT_ANNOTATION } from '../inject/annotations.js';
import { requestedTemplates } from '../inject/decide.js';
import { explainInjection } from '../inject/explain.js';
import { namespaceInfoFrom } from '../inject/namespace.js';
import { describeProblem } from '../inject/problems.js';
import { misplacedInjectAnnotation } from '../inject/workload-annotation.js';
import { policyModeVerdict } from '../policy/verdict.js';
import { findPodSites, SUPPORTED_KINDS } from '../workloads/pod-templates.js';
import { parseCommandArgs } from './args.js';
import type { CliIo } from './io.js';
import { creationOf, loadOffline, OFFLINE_HELP, OFFLINE_OPTIONS } from './manifests.js';

const HELP = `Usage: sidecar-injector explain -f FILE|- [options]

Says, for every pod and pod template in FILE (or stdin), what the webhook would
inject and, template by template, why not, and whether the policies of
\`sidecar-injector policy\` would do the same (docs/policy-mode.md).
Kinds: ${SUPPORTED_KINDS.join(', ')}. Exit status 0, or 1 when a pod would be refused.

Options:
${OFFLINE_HELP}
  --namespace-labels K=V,…  the namespace's labels, as the webhook's namespace
                            cache sees them (opt-in label, template selectors);
                            default: unknown, as without API access
  --namespace-templates L   the namespace's ${INJECT_ANNOTATION} annotation
`;

function parseLabels(raw: string): Record<string, string> | string {
  const labels: Record<string, string> = {};
  for (const pair of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    const at = pair.indexOf('=');
    if (at <= 0) return `explain: --namespace-labels: "${pair}" is not KEY=VALUE`;
    labels[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return labels;
}

export async function runExplain(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseCommandArgs(argv, {
    ...OFFLINE_OPTIONS,
    'namespace-labels': { type: 'string' },
    'namespace-templates': { type: 'string' },
  });
  if (args.values['help']) {
    io.stdout(HELP);
    return 0;
  }
  const offline = await loadOffline('explain', args.values, io);
  if (typeof offline === 'string') return io.fail(offline);
  const rawLabels = args.values['namespace-labels'];
  const labels = typeof rawLabels === 'string' ? parseLabels(rawLabels) : undefined;
  if (typeof labels === 'string') return io.fail(labels);
  const nsTemplates = args.values['namespace-templates'];
  const ns =
    labels === undefined && typeof nsTemplates !== 'string'
      ? { defaultTemplates: undefined }
      : namespaceInfoFrom({ labels: labels ?? {}, annotations: typeof nsTemplates === 'string' ? { [INJECT_ANNOTATION]: nsTemplates } : {} });
  // Without --namespace-labels the opt-in is unknown, as in a webhook without API access.
  if (labels === undefined) delete ns.optedIn;

  const out: string[] = [];
  let refused = false;
  for (const object of offline.objects) {
    const misplaced = misplacedInjectAnnotation(object, INJECT_ANNOTATION);
    const { sites, skipped } = findPodSites(object, String(args.values['namespace']));
    for (const kind of skipped) out.push(`${kind}: not a pod or workload; nothing to inject`);
    for (const site of sites) {
      const facts = creationOf(site);
      const lines = explainInjection(facts, offline.templates, offline.settings, ns);
      refused ||= lines[0]?.startsWith('refused') === true;
      out.push(`${site.label} (namespace ${facts.namespace}): ${lines[0] ?? ''}`, ...lines.slice(1));
      if (misplaced !== undefined) out.push(`  warning: ${describeProblem(misplaced)}`);
      if (facts.pod !== undefined) {
        out.push(`  ${policyModeVerdict(facts.pod, requestedTemplates(facts.pod, facts.namespace, offline.settings, ns), offline.templates, offline.settings)}`);
      }
    }
  }
  io.stdout(`${out.join('\n')}\n`);
  return refused ? 1 : 0;
}
