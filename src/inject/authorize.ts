// Per-template authorization, decided on the pod's namespace and service
// account: the workload the sidecar will run in. Not on request.userInfo,
// which for most pods is a controller (the ReplicaSet or Job controller).
import { formatLabelSelector, matchesLabelSelector } from '../util/label-selector.js';
import type { CompiledTemplate } from '../templates/model.js';
import type { Problem } from './problems.js';

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
    return {
      reason: 'privileged_not_allowed',
      template: name,
      message: `template "${name}" is privileged (${template.privileged.join('; ')}) and names no allowed namespaces, so it is refused everywhere`,
    };
  }
  if (namespaces?.has(workload.namespace)) return undefined;
  if (namespaceSelector !== undefined && workload.namespaceLabels !== undefined && matchesLabelSelector(namespaceSelector, workload.namespaceLabels)) {
    return undefined;
  }
  const allowed = [
    ...(namespaces === undefined ? [] : [`namespaces ${[...namespaces].join(', ') || '(none)'}`]),
    ...(namespaceSelector === undefined ? [] : [`namespaces labelled ${formatLabelSelector(namespaceSelector)}`]),
  ].join(' or ');
  const unknownLabels =
    namespaceSelector !== undefined && workload.namespaceLabels === undefined ? '; the labels of the namespace are not known to the webhook' : '';
  const privileged = template.privileged.length > 0 ? ` (privileged: ${template.privileged.join('; ')})` : '';
  return {
    reason: template.privileged.length > 0 ? 'privileged_not_allowed' : 'namespace_not_allowed',
    template: name,
    message: `template "${name}"${privileged} is not allowed in namespace "${workload.namespace}"; allowed: ${allowed}${unknownLabels}`,
  };
}

/** The refusal of `template` for this workload, or undefined when it may be injected. */
export function authorizeTemplate(template: CompiledTemplate, workload: Workload): Problem | undefined {
  const refusal = namespaceRefusal(template, workload);
  if (refusal !== undefined) return refusal;
  const accounts = template.access.serviceAccounts;
  if (accounts === undefined) return undefined;
  const account = workload.serviceAccount;
  if (accounts.has(account) || accounts.has(`${workload.namespace}/${account}`)) return undefined;
  return {
    reason: 'service_account_not_allowed',
    template: template.name,
    message: `template "${template.name}" is not allowed for service account "${workload.namespace}/${account}"; allowed: ${[...accounts].join(', ')}`,
  };
}
