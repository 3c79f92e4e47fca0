import { isPodCreate, type AdmissionFacts, type InjectionSettings, type NamespaceInfo } from '../inject/decide.js';
import { planForView, planInjection, type InjectionOutcome } from '../inject/plan.js';
import { podView } from '../inject/pod-view.js';
import type { TemplateSet } from '../templates/model.js';

/**
 * Memoises injection plans. Pods made from one pod template (a Deployment
 * scaling up, a Job's retries) have equal views, so all but the first reuse
 * the plan. The key is the JSON of everything planning can read — the pod's
 * view (inject/pod-view.ts), the namespace and its settings — and each
 * template set has its own cache, dropped with the set when it is replaced.
 * Outcomes are shared between requests and must not be mutated.
 */
export class PlanCache {
  private readonly bySet = new WeakMap<TemplateSet, Map<string, InjectionOutcome>>();

  constructor(
    private readonly settings: InjectionSettings,
    private readonly capacity: number,
    private readonly onLookup: (hit: boolean) => void = () => undefined,
  ) {}

  plan(facts: AdmissionFacts, templates: TemplateSet, ns: NamespaceInfo): InjectionOutcome {
    if (facts.pod === undefined || !isPodCreate(facts)) return planInjection(facts, templates, this.settings, ns);
    const view = podView(facts.pod);
    const key = JSON.stringify([facts.namespace, ns.optedIn ?? null, ns.defaultTemplates ?? null, ns.labels ?? null, view]);
    let entries = this.bySet.get(templates);
    if (entries === undefined) this.bySet.set(templates, (entries = new Map()));
    const cached = entries.get(key);
    if (cached !== undefined) {
      // Refresh its place: Map iteration order is insertion order, oldest first.
      entries.delete(key);
      entries.set(key, cached);
      this.onLookup(true);
      return cached;
    }
    this.onLookup(false);
    const outcome = planForView({ ...facts, pod: view }, templates, this.settings, ns);
    entries.set(key, outcome);
    if (entries.size > this.capacity) entries.delete(entries.keys().next().value as string);
    return outcome;
  }
}
