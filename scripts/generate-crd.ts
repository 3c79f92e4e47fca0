// Writes the core/v1 parts of the SidecarTemplate CRD (the schemas of
// spec.containers, spec.initContainers, spec.volumes and spec.appContainers'
// volumeMounts and env) into deploy/crds/sidecartemplates.yaml and its copy in
// the chart, leaving everything else in the file as written by hand.
// `npm run generate:crd`; test/unit/crd.test.ts fails while the file differs.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isMap, parseDocument } from 'yaml';
import { crdSchemaOf } from './crd-schema.js';
import { CORE_V1_KUBERNETES_VERSION } from '../src/templates/kube-schema/core-v1.js';

export const CRD_FILES = ['../deploy/crds/sidecartemplates.yaml', '../charts/sidecar-injector/crds/sidecartemplates.yaml'].map((path) =>
  fileURLToPath(new URL(path, import.meta.url)),
);

const SPEC = ['spec', 'versions', 0, 'schema', 'openAPIV3Schema', 'properties', 'spec', 'properties'];

const GENERATED = [
  { path: [...SPEC, 'containers', 'items'], kind: 'Container', description: 'A container as in a pod, with placeholders.' },
  { path: [...SPEC, 'initContainers', 'items'], kind: 'Container', description: 'An init container as in a pod, with placeholders.' },
  { path: [...SPEC, 'volumes', 'items'], kind: 'Volume', description: 'A volume as in a pod, with placeholders.' },
  { path: [...SPEC, 'appContainers', 'properties', 'volumeMounts', 'items'], kind: 'VolumeMount', description: "A mount added to the application's containers." },
  { path: [...SPEC, 'appContainers', 'properties', 'env', 'items'], kind: 'EnvVar', description: "An env var added to the application's containers." },
] as const;

/** The CRD text with its generated parts brought up to date. */
export function generateCrd(text: string): string {
  const document = parseDocument(text);
  for (const { path, kind, description } of GENERATED) {
    if (!isMap(document.getIn(path.slice(0, -1), true))) throw new Error(`the CRD has no ${path.slice(0, -1).join('.')}`);
    const node = document.createNode(crdSchemaOf(kind, description), { aliasDuplicateObjects: false });
    node.commentBefore = ` Generated from core/v1 ${kind} (Kubernetes ${CORE_V1_KUBERNETES_VERSION}) by npm run generate:crd; do not edit.`;
    document.setIn(path, node);
  }
  return document.toString();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [deployCopy, ...copies] = CRD_FILES as [string, ...string[]];
  const text = generateCrd(readFileSync(deployCopy, 'utf8'));
  for (const file of [deployCopy, ...copies]) writeFileSync(file, text);
  console.log(`wrote ${CRD_FILES.join(' and ')} (${text.length} bytes)`);
}
