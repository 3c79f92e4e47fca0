// inject/authorize.ts in CEL: who may use a template, decided on the pod's
// namespace (by name, or by its labels from namespaceObject) and service
// account, the workload the sidecar will run in.
import type { CompiledTemplate } from '../templates/model.js';
import type { LabelSelector } from '../util/label-selector.js';
import { celString, celStrings, POD } from './cel.js';

/** util/label-selector.ts's matchesLabelSelector over a CEL map of labels. */
function labelSelectorCel(selector: LabelSelector, labels: string): string {
  const terms: string[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) terms.push(`(${celString(key)} in ${labels} && ${labels}[${celString(key)}] == ${celString(value)})`);
  for (const r of selector.matchExpressions ?? []) {
    const has = `${celString(r.key)} in ${labels}`;
    const among = `${labels}[${celString(r.key)}] in ${celStrings(r.values ?? [])}`;
    if (r.operator === 'In') terms.push(`(${has} && ${among})`);
    else if (r.operator === 'NotIn') terms.push(`(!(${has}) || !(${among}))`);
    else if (r.operator === 'Exists') terms.push(has);
    else terms.push(`!(${has})`);
  }
  return terms.length === 0 ? 'true' : terms.join(' && ');
}

/** A CEL condition that holds when `template` may be injected into the pod. */
export function authorizationCel(template: CompiledTemplate): string {
  const { namespaces, namespaceSelector, serviceAccounts } = template.access;
  const terms: string[] = [];
  if (namespaces !== undefined || namespaceSelector !== undefined) {
    const allowed: string[] = [];
    if (namespaces !== undefined) allowed.push(`request.namespace in ${celStrings([...namespaces])}`);
    if (namespaceSelector !== undefined) allowed.push(`(${labelSelectorCel(namespaceSelector, 'namespaceObject.metadata.?labels.orValue({})')})`);
    terms.push(`(${allowed.join(' || ')})`);
  }
  if (serviceAccounts !== undefined) {
    const account = `${POD}.spec.?serviceAccountName.orValue('default')`;
    const list = celStrings([...serviceAccounts]);
    terms.push(`(${account} in ${list} || (request.namespace + '/' + ${account}) in ${list})`);
  }
  return terms.length === 0 ? 'true' : terms.join(' && ');
}
