// The e2e node itself (test/e2e/harness/node.ts): a Ready node of the same
// version as the control plane, pods that run, `kubectl logs` and `exec`
// through the apiserver, Services through kube-proxy, and a teardown that
// leaves nothing behind, so the next node starts clean.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { run } from '../support/run-program.js';
import { waitFor } from '../support/wait.js';
import type { ClusterNode } from './harness/node.js';
import { E2eEnvironment, stopEnvironment } from './support/environment.js';
import type { Kube } from './support/kube.js';

jest.setTimeout(120_000);

const BUSYBOX = 'docker.io/library/busybox:1.37';

let env: E2eEnvironment | undefined;
let kube: Kube;
let node: ClusterNode;
let namespace: string;

function busyboxPod(name: string, script: string, labels?: Record<string, string>): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: { containers: [{ name: 'main', image: BUSYBOX, command: ['sh', '-c', script] }] },
  };
}

beforeAll(async () => {
  env = await E2eEnvironment.start({ node: true });
  kube = env.kube;
  node = env.node as ClusterNode;
  namespace = await kube.createNamespace('node');
}, 600_000);

afterAll(async () => {
  await stopEnvironment(env);
}, 240_000);

describe('the node', () => {
  it('is Ready, runs kubelet of the control plane version on containerd 2, and holds the images nothing could pull', async () => {
    const info = (await kube.core.readNode({ name: node.name })).status?.nodeInfo;
    const version = JSON.parse((await kube.kubectl(['version', '-o', 'json'])).stdout) as { serverVersion: { gitVersion: string } };
    expect(info?.kubeletVersion).toBe(version.serverVersion.gitVersion);
    expect(info?.containerRuntimeVersion).toMatch(/^containerd:\/\/2\./);
    const images = await node.crictl(['images', '-o', 'json']);
    const tags = (JSON.parse(images.stdout) as { images: Array<{ repoTags: string[] }> }).images.flatMap((i) => i.repoTags);
    expect(tags).toEqual(expect.arrayContaining([BUSYBOX, 'registry.k8s.io/pause:3.10.1', 'ghcr.io/example/sidecar-http:0.1.0']));
  });

  it('runs a pod whose output `kubectl logs` shows and into which `kubectl exec` reaches', async () => {
    await kube.mustApply(busyboxPod('hello', 'echo hello from the node; exec sleep 3600'));
    await kube.waitForPodReady(namespace, 'hello');
    await kube.waitForLog(namespace, 'hello', 'main', ['hello from the node\n']);
    const exec = await kube.kubectl(['exec', '-n', namespace, 'hello', '--', 'sh', '-c', 'echo $((6 * 7)); id -u']);
    expect(exec).toMatchObject({ code: 0, stdout: '42\n0\n' });
  });

  it('routes a Service ClusterIP to its pod through kube-proxy', async () => {
    await kube.mustApply(
      busyboxPod('web', 'mkdir -p /tmp/www && echo served by web > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www', {
        app: 'web',
      }),
    );
    await kube.mustApply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace },
      spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
    });
    await kube.waitForPodReady(namespace, 'web');
    const service = await kube.core.readNamespacedService({ name: 'web', namespace });
    const clusterIp = service.spec?.clusterIP as string;
    // The rules follow the EndpointSlice a moment after the pod is Ready.
    await waitFor(
      `http://${clusterIp}/ from another pod`,
      async () => {
        const r = await kube.kubectl(['exec', '-n', namespace, 'hello', '--', 'wget', '-q', '-O', '-', `http://${clusterIp}/`]);
        return r.stdout === 'served by web\n' ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 1000 },
    );
  });

  it('stops without leaving processes, mounts, cgroups, devices, firewall rules or changed sysctls behind', async () => {
    const recorded = readFileSync(`${node.dir}/node.env`, 'utf8');
    const field = (key: string) => /^(\w+)='(.*)'$/m.exec(recorded.split('\n').find((l) => l.startsWith(`${key}=`)) ?? '')?.[2] ?? '';
    const pids = Object.values(node.pids);

    await node.stop();

    for (const pid of pids) expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(existsSync(node.dir)).toBe(false);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(node.dir);
    for (const hierarchy of readdirSync('/sys/fs/cgroup')) {
      expect(existsSync(`/sys/fs/cgroup/${hierarchy}/${field('CGROUP_ROOT')}`)).toBe(false);
    }
    expect((await run('ip', ['link', 'show', field('BRIDGE')])).code).not.toBe(0);
    const tables = (await run('nft', ['list', 'tables'])).stdout;
    expect(tables).not.toContain('kube-proxy');
    for (const line of tables.split('\n').filter((l) => l.startsWith('table '))) {
      expect(field('NFT_TABLES_BEFORE').split('\n')).toContain(line.slice('table '.length));
    }
    for (const pair of field('SYSCTLS_BEFORE').split(' ')) {
      const [key, value] = pair.split('=') as [string, string];
      expect(`${key}=${(await run('sysctl', ['-n', key])).stdout.trim()}`).toBe(`${key}=${value}`);
    }
    for (const path of field('CREATED_PATHS').split(' ').filter(Boolean)) expect(existsSync(path)).toBe(false);
    const shims = (await run('pgrep', ['-f', '--', `-address ${node.dir}`])).stdout;
    expect(shims).toBe('');
  });
});
