// Claims equal proofs: the oldest Kubernetes the chart admits (Chart.yaml
// kubeVersion) is the one the e2e project e2e-oldest runs against
// (test/e2e/cluster/oldest/go.mod), and the newest e2e release is not older.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { ROOT } from '../support/paths.js';

/** The k8s.io/kubernetes version a go.mod of the e2e cluster pins, as [major, minor]. */
function pinnedKubernetes(goMod: string): [number, number] {
  const match = /^\s*k8s\.io\/kubernetes v(\d+)\.(\d+)\.\d+\s*$/m.exec(readFileSync(join(ROOT, goMod), 'utf8'));
  if (!match) throw new Error(`${goMod} pins no k8s.io/kubernetes version`);
  return [Number(match[1]), Number(match[2])];
}

describe("the chart's kubeVersion", () => {
  const chart = parse(readFileSync(join(ROOT, 'charts/sidecar-injector/Chart.yaml'), 'utf8')) as { kubeVersion?: string };

  it('starts at the minor the oldest e2e control plane runs', () => {
    const [major, minor] = pinnedKubernetes('test/e2e/cluster/oldest/go.mod');
    expect(chart.kubeVersion).toBe(`>=${major}.${minor}.0-0`);
  });

  it('admits the newest e2e control plane, which is not older than the oldest', () => {
    const oldest = pinnedKubernetes('test/e2e/cluster/oldest/go.mod');
    const newest = pinnedKubernetes('test/e2e/cluster/go.mod');
    expect(newest[0] * 1000 + newest[1]).toBeGreaterThanOrEqual(oldest[0] * 1000 + oldest[1]);
  });
});
