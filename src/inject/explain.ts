// "Why was (or wasn't) my pod injected?": the decision of one pod told per
// template, in words. Pure; used by `sidecar-injector explain`.
import type { TemplateSet } from '../templates/model.js';
import { INJECT_ANNOTATION, INJECTION_LABEL, STATUS_ANNOTATION } from './annotations.js';
import { decideInjection, type AdmissionFacts, type InjectionSettings, type NamespaceInfo, type SkipReason } from './decide.js';
import { planInjection } from './plan.js';
import type { RenderedTemplate } from './render.js';
import { describeProblem } from './problems.js';

const SKIP_REASONS: Record<SkipReason, string> = {
  not_a_pod_create: 'only the creation of pods is mutated',
  opted_out: `the pod opts out (${INJECT_ANNOTATION}: "false")`,
  not_requested: `the pod has no ${INJECT_ANNOTATION} annotation and its namespace is not opted in (label ${INJECTION_LABEL}=enabled) or has no default templates`,
  no_default_templates: `${INJECT_ANNOTATION} is "true" but no default templates are configured`,
  already_injected: `every requested template is already injected (${STATUS_ANNOTATION})`,
  nothing_injectable: 'no requested template can be injected',
  annotation_on_workload: `${INJECT_ANNOTATION} is on the workload, not its pod template`,
  invalid_pod: 'the pod is not a valid pod; the API server rejects it',
};

function list(label: string, names: readonly string[]): string[] {
  return names.length === 0 ? [] : [`${label} ${names.join(', ')}`];
}

function injectedDetail(rendered: RenderedTemplate): string {
  const sidecarLabel = rendered.placement === 'native' ? 'native sidecars (initContainers, restartPolicy Always)' : 'containers';
  const parts = [
    ...list(sidecarLabel, rendered.template.containerNames),
    ...list('init containers', rendered.template.initContainerNames),
    ...list('volumes', rendered.template.volumeNames),
    ...list('mounts into the app containers:', rendered.appVolumeMounts.map((m) => `${m.name} at ${m.mountPath}`)),
    ...list('env for the app containers:', rendered.appEnv.map((e) => e.name)),
  ];
  const overridden = Object.entries(rendered.params).filter(([name, value]) => rendered.template.parameters.get(name)?.default !== value);
  parts.push(...list('parameters', overridden.map(([name, value]) => `${name}=${value}`)));
  return `injected (version ${rendered.template.version}): ${parts.join('; ')}`;
}

/** Lines explaining the decision for one pod; the first line is the verdict. */
export function explainInjection(facts: AdmissionFacts, templates: TemplateSet, settings: InjectionSettings, ns: NamespaceInfo): string[] {
  const decision = decideInjection(facts, templates, settings, ns);
  const outcome = planInjection(facts, templates, settings, ns);
  const lines: string[] = [];
  if (outcome.result === 'denied') lines.push(`refused: the apiserver would reject the pod (--on-problem=deny): ${outcome.message}`);
  else if (outcome.result === 'injected') lines.push(`injected: ${outcome.templates.join(', ')}`);
  else lines.push(`not injected: ${SKIP_REASONS[outcome.reason]}`);

  const verdicts = new Map<string, string>();
  const notes: string[] = [];
  if (decision.kind === 'inject') {
    for (const name of decision.priorStatus.templates.map((t) => t.name)) verdicts.set(name, 'already injected');
    for (const rendered of decision.rendered) verdicts.set(rendered.template.name, injectedDetail(rendered));
  }
  // The outcome's problems: the decision's plus the patch's (env the pod already sets).
  for (const problem of outcome.problems) {
    const previous = verdicts.get(problem.template ?? '');
    if (problem.template !== undefined && (previous === undefined || !previous.startsWith('injected'))) {
      verdicts.set(problem.template, `not injected: ${describeProblem(problem)}`);
    } else {
      notes.push(`  note: ${describeProblem(problem)}`);
    }
  }
  for (const [name, verdict] of verdicts) lines.push(`  ${name}: ${verdict}`);
  return [...lines, ...notes];
}
