// Per-template authorization, decided on the pod's namespace and service
// account: the workload the sidecar will run in. Not on request.userInfo,
// which for most pods is a controller (the ReplicaSet or Job controller).
import { formatLabelSelector, matchesLabelSelector } from '../util/label-selector.js';
import type { CompiledTemplate } from '../templates/model.js';
import { expendable, fitted, shortProblem, type Problem } from './problems.js';

export interface Workload {
  namespace: string;
  /** The namespace's labels when the webhook can see namespaces; undefined otherwise. */
  namespaceLabels: Readonly<Record<string, string>> | undefined;
  /** `spec.serviceAccountName`; the ServiceAccount admission plugin has defaulted it before webhooks run. */
  serviceAccount: string;
}

function namespaceRefusal(template: CompiledTemplate, workload: Workload): Problem | undefined {
  const { namespaces, namespaceSelector } = template.access;
  const name = template.name;
  if (namespaces === undefined && namespaceSelector === undefined) {
    if (template.privileged.length === 0) return undefined;
    return shortProblem(
      'privileged_not_allowed',
      name,
      fitted`template "${name}" is privileged and names no allowed namespaces: refused everywhere`,
      `privileged: ${template.privileged.join('; ')}`,
    );
  }
  if (namespaces?.has(workload.namespace)) return undefined;
  if (namespaceSelector !== undefined && workload.namespaceLabels !== undefined && matchesLabelSelector(namespaceSelector, workload.namespaceLabels)) {
    return undefined;
  }
  const allowed = [
    ...(namespaces === undefined ? [] : [[...namespaces].join(', ') || '(no namespace)']),
    ...(namespaceSelector === undefined ? [] : [`labelled ${formatLabelSelector(namespaceSelector)}`]),
  ].join(' or ');
  const unknownLabels =
    namespaceSelector !== undefined && workload.namespaceLabels === undefined ? 'the labels of the namespace are not known to the webhook' : '';
  if (template.privileged.length > 0) {
    return shortProblem(
      'privileged_not_allowed',
      name,
      fitted`privileged template "${name}" not allowed in namespace "${expendable(workload.namespace)}"; allowed: ${allowed}`,
      [`privileged: ${template.privileged.join('; ')}`, unknownLabels].filter((part) => part !== '').join('; '),
    );
  }
  return shortProblem(
    'namespace_not_allowed',
    name,
    fitted`template "${name}" not allowed in namespace "${expendable(workload.namespace)}"; allowed: ${allowed}`,
    unknownLabels,
  );
}

/** The refusal of `template` for this workload, or undefined when it may be injected. */
export function authorizeTemplate(template: CompiledTemplate, workload: Workload): Problem | undefined {
  const refusal = namespaceRefusal(template, workload);
  if (refusal !== undefined) return refusal;
  const accounts = template.access.serviceAccounts;
  if (accounts === undefined) return undefined;
  const account = workload.serviceAccount;
  if (accounts.has(account) || accounts.has(`${workload.namespace}/${account}`)) return undefined;
  return shortProblem(
    'service_account_not_allowed',
    template.name,
    fitted`template "${template.name}" not allowed for service account "${expendable(`${workload.namespace}/${account}`)}"; allowed: ${[...accounts].join(', ')}`,
  );
}
