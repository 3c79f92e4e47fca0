// The chart installed the way users install it, on the e2e cluster with its
// node: the webhook's image built from the Dockerfile (webhook-image.ts) and
// the `helm test` image imported into the node's containerd under the names
// the chart's defaults use, then `helm install --wait` with no value changed
// unless a caller asks. The apiserver reaches the webhook through the
// chart's Service (kube-proxy on the node).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CHART_DIR, helm, type RunResult } from '../../chart/support/helm.js';
import { ensureImages } from '../node/images/build.js';
import { kubectlRecipe } from '../node/images/chart-recipes.js';
import { ensureControlPlaneBinaries } from './control-plane.js';
import type { ClusterNode } from './node.js';
import { ensureWebhookImage, type WebhookImage } from './webhook-image.js';

export const RELEASE = 'sidecar-injector';
export const RELEASE_NAMESPACE = 'sidecar-injector';

export interface InstalledChart {
  release: string;
  namespace: string;
  image: WebhookImage;
  /** `helm ...args` against this cluster; never throws on a non-zero exit. */
  helm(args: readonly string[], timeoutMs?: number): Promise<RunResult>;
}

/** The Kubernetes version the e2e binaries are built from (test/e2e/cluster/go.mod). */
function kubernetesVersion(): string {
  const goMod = readFileSync(join(CHART_DIR, '../../test/e2e/cluster/go.mod'), 'utf8');
  const version = /^\s*k8s\.io\/kubernetes (v\S+)/m.exec(goMod)?.[1];
  if (!version) throw new Error('test/e2e/cluster/go.mod does not require k8s.io/kubernetes');
  return version;
}

/** Builds (when out of date) the images the chart's defaults name: the webhook's and the `helm test` one. */
export async function ensureChartImages(log: (line: string) => void): Promise<{ webhook: WebhookImage; archives: string[] }> {
  const values = parse(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as { tests: { image: string } };
  const version = kubernetesVersion();
  if (values.tests.image !== `registry.k8s.io/kubectl:${version}`) {
    throw new Error(`the chart's tests.image is ${values.tests.image}, but the cluster is ${version}: keep them equal`);
  }
  const bins = await ensureControlPlaneBinaries({ log });
  const kubectl = await ensureImages([kubectlRecipe(bins.kubectl, version)], { log });
  const webhook = await ensureWebhookImage({ log });
  return { webhook, archives: [webhook.archive, ...kubectl.map((i) => i.archive)] };
}

/** Builds and imports the images the chart's defaults name. */
export async function importChartImages(node: ClusterNode, log: (line: string) => void): Promise<WebhookImage> {
  const { webhook, archives } = await ensureChartImages(log);
  for (const archive of archives) await node.importImage(archive);
  return webhook;
}

/** `helm install --wait` of the chart (values from `set`, `--set` syntax), after importing its images. */
export async function installChart(
  kubeconfig: string,
  node: ClusterNode,
  options: { set?: readonly string[]; log?: (line: string) => void } = {},
): Promise<InstalledChart> {
  const log = options.log ?? ((line: string) => process.stderr.write(`[chart] ${line}\n`));
  const image = await importChartImages(node, log);
  const run = (args: readonly string[], timeoutMs = 300_000) => helm(args, { kubeconfig, timeoutMs });
  log(`helm install ${RELEASE} (namespace ${RELEASE_NAMESPACE}, image ${image.name})`);
  const installed = await run([
    'install', RELEASE, CHART_DIR,
    '--namespace', RELEASE_NAMESPACE,
    '--create-namespace',
    '--wait',
    '--timeout', '4m',
    ...(options.set ?? []).flatMap((s) => ['--set', s]),
  ]);
  if (installed.code !== 0) throw new Error(`helm install failed (exit ${installed.code}): ${installed.stderr}`);
  return { release: RELEASE, namespace: RELEASE_NAMESPACE, image, helm: run };
}
