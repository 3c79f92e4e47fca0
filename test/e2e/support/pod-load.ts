// A steady stream of pod creations that ask for injection, straight at the
// kube-apiserver (as a controller would create them), so a drill can count
// what users would see: creations the apiserver refused, and stored pods
// without their sidecars. The pods never schedule (a nodeSelector no node
// has), so thousands of them cost the node nothing.
import { Agent, request } from 'node:https';
import type { ControlPlane } from '../harness/control-plane.js';
import { INJECT_ANNOTATION, STATUS_ANNOTATION } from './kube.js';

export interface LoadOptions {
  namespace: string;
  /** Creations started per second, whatever the previous ones are doing. */
  perSecond: number;
  durationMs: number;
  /** Templates every pod asks for (the annotation's value). */
  templates: string;
  /** Container names every stored pod must hold (the injected sidecars). */
  expectedContainers: readonly string[];
}

export interface LoadReport {
  started: number;
  created: number;
  /** Refused or failed creations, by the apiserver's message (or the client error). */
  failures: Map<string, number>;
  /** Stored pods lacking an expected container or the status record. */
  uninjected: string[];
  latenciesMs: number[];
}

export interface CreateResult {
  ok: boolean;
  reason: string;
  ms: number;
}

export class PodLoad {
  private readonly agent: Agent;

  constructor(private readonly cp: ControlPlane) {
    // Keep-alive, as client-go: the apiserver side of the drill is not what is tested.
    this.agent = new Agent({ keepAlive: true, maxSockets: 64, ca: cp.caPem, cert: cp.adminCertPem, key: cp.adminKeyPem });
  }

  close(): void {
    this.agent.destroy();
  }

  private call(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
    const url = new URL(path, this.cp.server);
    return new Promise((resolve, reject) => {
      const req = request(url, { method, agent: this.agent, headers: { 'content-type': 'application/json' }, timeout: 60_000 }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('no answer within 60 s')));
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }

  private create(options: LoadOptions, index: number): Promise<CreateResult> {
    return this.createPod(options.namespace, `load-${index}`, { [INJECT_ANNOTATION]: options.templates });
  }

  /** Creates one never-scheduled pod with these annotations; says how long the apiserver took. */
  async createPod(namespace: string, name: string, annotations: Record<string, string>): Promise<CreateResult> {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, annotations },
      spec: {
        nodeSelector: { 'sidecar.example/drill': 'never-scheduled' },
        containers: [{ name: 'app', image: 'docker.io/library/busybox:1.37', command: ['sleep', '3600'] }],
      },
    };
    const started = performance.now();
    try {
      const { status, text } = await this.call('POST', `/api/v1/namespaces/${namespace}/pods`, pod);
      const ms = performance.now() - started;
      if (status === 201) return { ok: true, reason: '', ms };
      const message = (JSON.parse(text) as { message?: string }).message ?? text;
      return { ok: false, reason: `${status}: ${message}`, ms };
    } catch (error) {
      return { ok: false, reason: `client: ${(error as Error).message}`, ms: performance.now() - started };
    }
  }

  /**
   * Creates pods at the rate for the duration while `during` runs (started
   * `afterMs` in), waits for every creation and for `during`, then checks the
   * stored pods.
   */
  async run(options: LoadOptions, during?: { afterMs: number; action: () => Promise<void> }): Promise<LoadReport> {
    const creations: Array<Promise<CreateResult>> = [];
    const intervalMs = 1000 / options.perSecond;
    const start = performance.now();
    let actionDone: Promise<void> = Promise.resolve();
    let actionStarted = during === undefined;
    for (let i = 0; performance.now() - start < options.durationMs; i++) {
      const due = start + i * intervalMs;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (!actionStarted && during !== undefined && performance.now() - start >= during.afterMs) {
        actionStarted = true;
        actionDone = during.action();
      }
      creations.push(this.create(options, i));
    }
    const results = await Promise.all(creations);
    await actionDone;
    const failures = new Map<string, number>();
    for (const r of results.filter((x) => !x.ok)) failures.set(r.reason, (failures.get(r.reason) ?? 0) + 1);
    return {
      started: results.length,
      created: results.filter((r) => r.ok).length,
      failures,
      uninjected: await this.uninjected(options),
      latenciesMs: results.filter((r) => r.ok).map((r) => r.ms),
    };
  }

  /** Names of stored pods in the namespace that lack an expected container or the status record. */
  private async uninjected(options: LoadOptions): Promise<string[]> {
    const { status, text } = await this.call('GET', `/api/v1/namespaces/${options.namespace}/pods`);
    if (status !== 200) throw new Error(`listing pods failed: ${status} ${text}`);
    type Named = { name: string };
    const pods = (JSON.parse(text) as {
      items: Array<{ metadata: { name: string; annotations?: Record<string, string> }; spec: { containers: Named[]; initContainers?: Named[] } }>;
    }).items;
    return pods
      .filter((pod) => {
        const names = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].map((c) => c.name);
        return !options.expectedContainers.every((c) => names.includes(c)) || pod.metadata.annotations?.[STATUS_ANNOTATION] === undefined;
      })
      .map((pod) => pod.metadata.name);
  }
}

/** One line for the test's output: what users would have seen. */
export function describeLoad(drill: string, report: LoadReport): string {
  const failed = [...report.failures.values()].reduce((a, b) => a + b, 0);
  const reasons = [...report.failures].map(([reason, n]) => `\n    ${n} × ${reason.slice(0, 300)}`).join('');
  const sorted = [...report.latenciesMs].sort((a, b) => a - b);
  const pct = (p: number) => (sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number));
  return (
    `${drill}: ${report.started} creations, ${failed} failed, ${report.uninjected.length} stored without their sidecars; ` +
    `create latency median ${pct(0.5).toFixed(0)} ms, p99 ${pct(0.99).toFixed(0)} ms, max ${pct(1).toFixed(0)} ms${reasons}`
  );
}
