import type { TemplateSet } from '../templates/model.js';
import { decideInjection, type AdmissionFacts, type InjectionSettings, type NamespaceInfo, type SkipReason } from './decide.js';
import { ANNOTATION_LIMIT_BYTES, annotationBudgetProblem, annotationBytesWith } from './annotation-budget.js';
import { formatStatusAnnotation, STATUS_ANNOTATION } from './annotations.js';
import { buildPatch, serializePatch } from './patch.js';
import { annotationBytesBesidesStatus, podView } from './pod-view.js';
import { DENIABLE_REASONS, describeProblem, problemToWarning, type Problem, type ProblemReason } from './problems.js';

// The planner's input, named here so that admission/ speaks to the core only (docs/design.md "Layers").
export type { TemplateSet };

/** The whole answer for one admission, before it is encoded as an AdmissionResponse. */
export type InjectionOutcome =
  | {
      result: 'skipped';
      reason: SkipReason;
      /**
       * No template injected, yet the pod is corrected: containers added since
       * the injection get its mounts and env (`completed`), or an unbelieved
       * status record is removed.
       */
      patch?: string;
      completed?: string[];
      problems: Problem[];
      warnings: string[];
    }
  | {
      result: 'injected';
      templates: string[];
      /** The JSON patch as JSON text (an RFC 6902 array). */
      patch: string;
      /** Templates injected before whose mounts or env were added to containers that lacked them. */
      completed?: string[];
      problems: Problem[];
      warnings: string[];
    }
  | { result: 'denied'; reason: ProblemReason; message: string; problems: Problem[]; warnings: string[] };

/** decide → render → patch, and the on-problem policy. Pure; shared by the webhook and the CLI. */
export function planInjection(
  facts: AdmissionFacts,
  templates: TemplateSet,
  settings: InjectionSettings,
  ns: NamespaceInfo,
): InjectionOutcome {
  return planForView({ ...facts, pod: facts.pod === undefined ? undefined : podView(facts.pod) }, templates, settings, ns);
}

/** planInjection for a pod already reduced by podView (what the plan cache keys on). */
export function planForView(
  facts: AdmissionFacts,
  templates: TemplateSet,
  settings: InjectionSettings,
  ns: NamespaceInfo,
): InjectionOutcome {
  const decision = decideInjection(facts, templates, settings, ns);
  const problems = decision.problems;
  let outcome: InjectionOutcome;
  if (decision.kind === 'skip') {
    outcome = { result: 'skipped', reason: decision.reason, problems, warnings: [] };
    if (decision.repair !== undefined && decision.priorStatus !== undefined) {
      const patch = buildPatch(facts.pod!, [], decision.priorStatus, decision.repair);
      problems.push(...patch.problems);
      if (patch.operations.length > 0) outcome.patch = serializePatch(patch.operations);
      if (patch.completed.length > 0) outcome.completed = patch.completed;
    }
  } else {
    const patch = buildPatch(facts.pod!, decision.rendered, decision.priorStatus, decision.repair);
    problems.push(...patch.problems);
    const record = formatStatusAnnotation(patch.status);
    const total = annotationBytesWith(annotationBytesBesidesStatus(facts.pod!.metadata), STATUS_ANNOTATION, record);
    if (total > ANNOTATION_LIMIT_BYTES) {
      const problem = annotationBudgetProblem(total, annotationBytesWith(0, STATUS_ANNOTATION, record));
      return { result: 'denied', reason: problem.reason, message: `sidecar injection refused: ${describeProblem(problem)}`, problems: [...problems, problem], warnings: [] };
    }
    outcome = {
      result: 'injected',
      templates: decision.rendered.map((r) => r.template.name),
      patch: serializePatch(patch.operations),
      problems,
      warnings: [],
    };
    if (patch.completed.length > 0) outcome.completed = patch.completed;
  }
  const deniable = problems.filter((p) => DENIABLE_REASONS.has(p.reason));
  const first = deniable[0];
  if (settings.onProblem === 'deny' && first !== undefined) {
    const message = `sidecar injection refused: ${deniable.map(describeProblem).join('; ')}`;
    return { result: 'denied', reason: first.reason, message, problems, warnings: [] };
  }
  outcome.warnings = problems.map(problemToWarning);
  return outcome;
}
