// The SidecarTemplate CRD: one manifest in two places, a structural schema that
// keeps what users write, and the columns `kubectl get sidecartemplates` shows.
// (The e2e suite applies it to a real apiserver.)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { templateDocumentSchema } from '../../src/templates/schema.js';
import { generateCrd } from '../../scripts/generate-crd.js';
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

/**
 * Paths of nodes that break the structural-schema rules the apiserver enforces
 * (apiextensions' structural schema: every node typed, no $ref; inside anyOf
 * only value checks, and a branch's type only under x-kubernetes-int-or-string).
 */
function nonStructural(node: SchemaNode, path: string): string[] {
  const problems: string[] = [];
  const typed = node.type !== undefined || node['x-kubernetes-int-or-string'] === true || node['x-kubernetes-preserve-unknown-fields'] === true;
  if (!typed) problems.push(`${path}: no type`);
  for (const forbidden of ['const', 'not', 'oneOf', 'allOf', '$ref']) {
    if (forbidden in node) problems.push(`${path}: ${forbidden}`);
  }
  for (const branch of (node['anyOf'] as SchemaNode[] | undefined) ?? []) {
    for (const key of Object.keys(branch)) {
      const allowed = key === 'enum' || key === 'pattern' || (key === 'type' && node['x-kubernetes-int-or-string'] === true);
      if (!allowed) problems.push(`${path}: anyOf with ${key}`);
    }
  }
  if (Array.isArray(node.type)) problems.push(`${path}: type array`);
  for (const [key, child] of Object.entries(node.properties ?? {})) problems.push(...nonStructural(child, `${path}.${key}`));
  if (node.items) problems.push(...nonStructural(node.items, `${path}[]`));
  if (typeof node.additionalProperties === 'object') problems.push(...nonStructural(node.additionalProperties, `${path}.*`));
  return problems;
}

/** Fields under `node` with no description (what `kubectl explain` would show blank), and objects that keep unknown fields. */
function undocumentedOrOpen(node: SchemaNode, path: string, isField = true): string[] {
  const problems: string[] = [];
  if (isField && (typeof node['description'] !== 'string' || node['description'] === '')) problems.push(`${path}: no description`);
  if (node['x-kubernetes-preserve-unknown-fields'] === true && node.properties !== undefined) problems.push(`${path}: keeps unknown fields`);
  for (const [key, child] of Object.entries(node.properties ?? {})) problems.push(...undocumentedOrOpen(child, `${path}.${key}`));
  if (node.items) problems.push(...undocumentedOrOpen(node.items, `${path}[]`, false));
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

  it('is structural: every node typed, no $ref, const, not, oneOf or type arrays, value checks only in anyOf', () => {
    expect(nonStructural(root, 'openAPIV3Schema')).toEqual([]);
  });

  it('documents every spec field and keeps no unknown one (kubectl explain; kubectl apply refuses a typo)', () => {
    const spec = root.properties?.['spec'] as SchemaNode;
    expect(undocumentedOrOpen(spec, 'spec')).toEqual([]);
    const known = Object.keys(templateDocumentSchema.properties.spec.properties).sort();
    expect(Object.keys(spec.properties ?? {}).sort()).toEqual(known);
    // Parameter defaults are written as numbers or strings.
    expect(spec.properties?.['parameters']?.items?.properties?.['default']).toMatchObject({ 'x-kubernetes-int-or-string': true });
  });

  it('carries the core/v1 container schema, with room for placeholders where the type is not a string', () => {
    const container = (root.properties?.['spec'] as SchemaNode).properties?.['containers']?.items as SchemaNode;
    const port = container.properties?.['ports']?.items?.properties?.['containerPort'] as SchemaNode;
    expect(port).toMatchObject({ 'x-kubernetes-int-or-string': true, pattern: '\\{\\{' });
    expect(String(port['description'])).toContain('Number of port to expose');
    const memory = container.properties?.['resources']?.properties?.['limits']?.additionalProperties as SchemaNode;
    const quantity = new RegExp(String(memory['pattern']));
    expect(['64Mi', '250m', '1e3', '{{ params.memory }}'].filter((v) => !quantity.test(v))).toEqual([]);
    expect(quantity.test('64 Mi')).toBe(false);
    const pullPolicy = container.properties?.['imagePullPolicy'] as SchemaNode;
    expect(pullPolicy['anyOf']).toEqual([{ enum: ['Always', 'IfNotPresent', 'Never'] }, { pattern: '\\{\\{' }]);
  });

  it('is what npm run generate:crd makes of it (the core/v1 parts are generated)', () => {
    const committed = readFileSync(DEPLOY_COPY, 'utf8');
    expect(generateCrd(committed) === committed ? 'up to date' : 'differs: run npm run generate:crd').toBe('up to date');
  });
});
