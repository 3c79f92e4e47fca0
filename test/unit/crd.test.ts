// The SidecarTemplate CRD: one manifest in two places, a structural schema that
// keeps what users write, and the columns `kubectl get sidecartemplates` shows.
// (The e2e suite applies it to a real apiserver.)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { templateDocumentSchema } from '../../src/templates/schema.js';
import { ROOT } from '../support/paths.js';

const DEPLOY_COPY = join(ROOT, 'deploy', 'crds', 'sidecartemplates.yaml');
const CHART_COPY = join(ROOT, 'charts', 'sidecar-injector', 'crds', 'sidecartemplates.yaml');

interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  additionalProperties?: SchemaNode | boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  [key: string]: unknown;
}

const crd = parse(readFileSync(DEPLOY_COPY, 'utf8')) as {
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string; shortNames: string[] };
    versions: Array<{
      name: string;
      served: boolean;
      storage: boolean;
      subresources: Record<string, unknown>;
      additionalPrinterColumns: Array<{ name: string; jsonPath: string; priority?: number }>;
      schema: { openAPIV3Schema: SchemaNode };
    }>;
  };
};
const version = crd.spec.versions[0]!;
const root = version.schema.openAPIV3Schema;

/** Paths of nodes that break the structural-schema rules the apiserver enforces. */
function nonStructural(node: SchemaNode, path: string): string[] {
  const problems: string[] = [];
  const typed = node.type !== undefined || node['x-kubernetes-int-or-string'] === true || node['x-kubernetes-preserve-unknown-fields'] === true;
  if (!typed) problems.push(`${path}: no type`);
  for (const forbidden of ['const', 'not', 'anyOf', 'oneOf', 'allOf', '$ref']) {
    if (forbidden in node) problems.push(`${path}: ${forbidden}`);
  }
  if (Array.isArray(node.type)) problems.push(`${path}: type array`);
  for (const [key, child] of Object.entries(node.properties ?? {})) problems.push(...nonStructural(child, `${path}.${key}`));
  if (node.items) problems.push(...nonStructural(node.items, `${path}[]`));
  if (typeof node.additionalProperties === 'object') problems.push(...nonStructural(node.additionalProperties, `${path}.*`));
  return problems;
}

describe('SidecarTemplate CRD', () => {
  it('the chart ships exactly the manifest in deploy/crds (Helm installs crds/ first)', () => {
    expect(readFileSync(CHART_COPY, 'utf8')).toBe(readFileSync(DEPLOY_COPY, 'utf8'));
  });

  it('is sidecartemplates.sidecar.example, cluster-scoped, v1alpha1 with a status subresource and the short name sct', () => {
    expect(crd.metadata.name).toBe('sidecartemplates.sidecar.example');
    expect(crd.spec).toMatchObject({ group: 'sidecar.example', scope: 'Cluster', names: { kind: 'SidecarTemplate', plural: 'sidecartemplates', shortNames: ['sct'] } });
    expect(version).toMatchObject({ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} } });
    expect(`${crd.spec.group}/${version.name}`).toBe(templateDocumentSchema.properties.apiVersion.const);
    expect(crd.spec.names.kind).toBe(templateDocumentSchema.properties.kind.const);
  });

  it('kubectl get shows mode, version, validity and the version in force (the message with -o wide)', () => {
    expect(version.additionalPrinterColumns.map((c) => [c.name, c.jsonPath, c.priority ?? 0])).toEqual([
      ['Mode', '.spec.mode', 0],
      ['Version', '.spec.version', 0],
      ['Valid', '.status.conditions[?(@.type=="Valid")].status', 0],
      ['Active', '.status.activeVersion', 0],
      ['Age', '.metadata.creationTimestamp', 0],
      ['Message', '.status.conditions[?(@.type=="Valid")].message', 1],
    ]);
  });

  it('is structural: every node typed, no const/not/anyOf/type arrays', () => {
    expect(nonStructural(root, 'openAPIV3Schema')).toEqual([]);
  });

  it('keeps unknown spec fields for the webhook to judge, and names every field the webhook knows', () => {
    const spec = root.properties?.['spec'] as SchemaNode;
    expect(spec['x-kubernetes-preserve-unknown-fields']).toBe(true);
    const known = Object.keys(templateDocumentSchema.properties.spec.properties).sort();
    expect(Object.keys(spec.properties ?? {}).sort()).toEqual(known);
    // Parameter defaults are written as numbers or strings.
    expect(spec.properties?.['parameters']?.items?.properties?.['default']).toEqual({ 'x-kubernetes-int-or-string': true });
    for (const body of ['containers', 'initContainers', 'volumes']) {
      expect(spec.properties?.[body]?.items?.['x-kubernetes-preserve-unknown-fields']).toBe(true);
    }
  });
});
