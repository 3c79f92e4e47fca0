import { INJECT_ANNOTATION, INJECTION_LABEL, parseInjectAnnotation } from './annotations.js';
import type { NamespaceInfo } from './decide.js';

export interface NamespaceMetadata {
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
}

/**
 * What the decision needs to know of a namespace: whether it opted in
 * (`sidecar.example/injection=enabled`) and its default template list
 * (`sidecar.example/inject` annotation). Unknown namespace → unknown.
 */
export function namespaceInfoFrom(namespace: NamespaceMetadata | undefined): NamespaceInfo {
  if (namespace === undefined) return { defaultTemplates: undefined };
  const request = parseInjectAnnotation(namespace.annotations[INJECT_ANNOTATION]);
  return {
    optedIn: namespace.labels[INJECTION_LABEL] === 'enabled',
    labels: namespace.labels,
    defaultTemplates: request.kind === 'names' ? request.names : undefined,
  };
}
