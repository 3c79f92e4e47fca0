// One e2e test file's world: a real control plane (and, on request, a node
// that runs the pods), the injector process(es) and any helper servers, all
// stopped by stop() (afterAll) whatever happened.
import type { ServeOptions, ServeProcess } from '../../support/serve-process.js';
import { TempDirs } from '../../support/temp.js';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.js';
import { startNode, type ClusterNode } from '../harness/node.js';
import type { WebhookOptions } from './webhook-configuration.js';
import { mutateUrl, registerWebhook, startInjector, waitUntilCalled } from './injector.js';
import { Kube } from './kube.js';

export class E2eEnvironment {
  readonly temps = new TempDirs();
  private readonly injectors: ServeProcess[] = [];
  private readonly closers: Array<() => Promise<void>> = [];

  private constructor(
    readonly controlPlane: ControlPlane,
    readonly kube: Kube,
    /** Present when started with `{ node: true }`: kube-scheduler and a node run the pods. */
    readonly node: ClusterNode | undefined,
  ) {}

  static async start(options: { node?: boolean } = {}): Promise<E2eEnvironment> {
    const controlPlane = await startControlPlane({ scheduler: options.node === true });
    let node: ClusterNode | undefined;
    try {
      if (options.node) node = await startNode(controlPlane);
    } catch (error) {
      await controlPlane.stop().catch(() => undefined);
      throw error;
    }
    return new E2eEnvironment(controlPlane, new Kube(controlPlane.kubeconfigPath), node);
  }

  /** A webhook process reading namespaces through the control plane; killed by PID in stop(). */
  async startInjector(extraFlags: string[] = [], options: ServeOptions = {}): Promise<ServeProcess> {
    const serve = await startInjector(this.temps, this.controlPlane.kubeconfigPath, extraFlags, options);
    this.injectors.push(serve);
    return serve;
  }

  /**
   * The usual start of a test file: a webhook process, the chart's
   * configuration pointing at it, and a wait until the apiserver (which picks
   * configurations up through an informer) really calls it.
   */
  async startRegisteredInjector(
    registration: Omit<WebhookOptions, 'url' | 'caBundlePem'>,
    extraFlags: string[] = [],
    options: ServeOptions = {},
  ): Promise<ServeProcess> {
    const serve = await this.startInjector(extraFlags, options);
    await registerWebhook(this.kube, { url: mutateUrl(serve.port), caBundlePem: serve.ca, ...registration });
    await waitUntilCalled(this.kube, serve, await this.kube.createNamespace('warmup'));
    return serve;
  }

  /** Registers a cleanup step for a server started by the test (run in reverse order by stop()). */
  onStop(closer: () => Promise<void>): void {
    this.closers.push(closer);
  }

  async stop(): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (step: () => Promise<void>): Promise<void> => {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    };
    for (const closer of this.closers.splice(0).reverse()) await attempt(closer);
    for (const serve of this.injectors.splice(0)) await attempt(() => serve.kill());
    if (this.node) await attempt(() => (this.node as ClusterNode).stop());
    await attempt(() => this.controlPlane.stop());
    await attempt(() => this.temps.cleanup());
    if (errors.length > 0) throw errors[0];
  }
}

/** For afterAll: stops the environment if beforeAll got as far as creating it. */
export async function stopEnvironment(env: E2eEnvironment | undefined): Promise<void> {
  await env?.stop();
}
