// Which pod creations the webhook configuration sends to the webhook: the
// process's copy of the selectors and matchConditions of
// charts/sidecar-injector/templates/mutatingwebhookconfiguration.yaml, so the
// reconciler of missed injections judges only pods the webhook would have
// been asked about. The excluded namespaces come from the chart's own list
// (--reconcile-exclude-namespaces); test/e2e/missed-injections.test.ts holds
// this rule and the kube-apiserver's reading of the configuration to the same
// answers. Pure.
import { INJECT_ANNOTATION, INJECTION_LABEL } from './annotations.js';

export interface WebhookScope {
  /** `kubernetes.io/metadata.name NotIn [...]` of every webhook. */
  excludedNamespaces: ReadonlySet<string>;
}

/**
 * True when one of the two pod webhooks receives this pod's CREATE:
 *  - namespace.sidecar.example: namespace labelled sidecar.example/injection=enabled,
 *    matchCondition "annotation is not exactly 'false'";
 *  - pod.sidecar.example: any other namespace, matchCondition "annotation is
 *    set, not empty and not exactly 'false'".
 * CEL compares strings exactly: "False" is not an opt-out for the apiserver
 * (the webhook then skips the pod itself).
 */
export function sentToWebhook(
  annotations: Readonly<Record<string, string>> | undefined,
  namespace: string,
  namespaceLabels: Readonly<Record<string, string>>,
  scope: WebhookScope,
): boolean {
  if (scope.excludedNamespaces.has(namespace)) return false;
  const inject = annotations?.[INJECT_ANNOTATION] ?? '';
  if (inject === 'false') return false;
  if (namespaceLabels[INJECTION_LABEL] === 'enabled') return true;
  return inject !== '';
}
