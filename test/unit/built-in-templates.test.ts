// What the README promises of every built-in template, read from the files
// themselves: native sidecars (so Jobs complete), pinned images, containers
// that satisfy Pod Security `restricted` on their own (the application's pod
// may set nothing), and CPU and memory requests and limits (so a namespace
// whose ResourceQuota requires them admits the pod). That they really run is
// test/e2e/sidecars-at-work.test.ts.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { compileTemplate } from '../../src/templates/compile.js';
import { BUILT_IN_DIR } from '../support/templates.js';

// The volume types Pod Security restricted allows (check_restrictedVolumes.go).
const RESTRICTED_VOLUME_TYPES = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];

interface Container {
  name: string;
  image: string;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
    seccompProfile?: { type?: string };
    privileged?: boolean;
  };
}

const templates = readdirSync(BUILT_IN_DIR)
  .filter((file) => file.endsWith('.yaml'))
  .map((file) => parse(readFileSync(join(BUILT_IN_DIR, file), 'utf8')) as {
    metadata: { name: string };
    spec: { mode?: string; containers?: Container[]; initContainers?: Container[]; volumes?: Array<Record<string, unknown>> };
  });

describe.each(templates.map((t) => [t.metadata.name, t] as const))('built-in template %s', (_name, template) => {
  const containers = [...(template.spec.containers ?? []), ...(template.spec.initContainers ?? [])];

  it('is not privileged: nothing that Pod Security baseline forbids', () => {
    const result = compileTemplate(template, template.metadata.name);
    expect(result.ok && result.template.privileged).toEqual([]);
  });

  it('uses only the volume types restricted allows', () => {
    for (const volume of template.spec.volumes ?? []) {
      const types = Object.keys(volume).filter((key) => key !== 'name');
      expect(types).toHaveLength(1);
      expect(RESTRICTED_VOLUME_TYPES).toContain(types[0]);
    }
  });

  it('runs its sidecars as native sidecars', () => {
    expect(template.spec.mode).toBe('native');
  });

  it.each(containers.map((c) => [c.name, c] as const))('container %s has a pinned image', (_c, container) => {
    expect(container.image).toMatch(/:[A-Za-z0-9._-]+$/);
    expect(container.image).not.toMatch(/:latest$/);
  });

  it.each(containers.map((c) => [c.name, c] as const))('container %s satisfies Pod Security restricted by itself', (_c, container) => {
    const security = container.securityContext;
    expect(security).toMatchObject({
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(security?.runAsUser).toBeGreaterThan(0);
    expect(security?.privileged).not.toBe(true);
    expect(security?.capabilities?.add ?? []).toEqual([]);
  });

  it.each(containers.map((c) => [c.name, c] as const))('container %s requests and limits CPU and memory', (_c, container) => {
    for (const kind of ['requests', 'limits'] as const) {
      expect(Object.keys(container.resources?.[kind] ?? {}).sort()).toEqual(['cpu', 'memory']);
    }
  });
});

it('there are the four built-in templates', () => {
  expect(templates.map((t) => t.metadata.name).sort()).toEqual(['egress-logger', 'http-interceptor', 'http-prober', 'log-collector']);
});
