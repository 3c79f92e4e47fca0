// src/kube/ is the only code that talks to the Kubernetes API. It is loaded
// lazily (the client is large), only when the process has API access.
import { KubeConfig } from '@kubernetes/client-node';

export interface KubeConnection {
  config: KubeConfig;
  /** Where the credentials came from, for the startup log. */
  source: string;
}

/** `--kubeconfig PATH`, else the in-cluster service account, else none (local mode). */
export function connectToKubernetes(kubeconfig: string, env: Readonly<Record<string, string | undefined>>): KubeConnection | undefined {
  const config = new KubeConfig();
  if (kubeconfig !== '') {
    config.loadFromFile(kubeconfig);
    return { config, source: kubeconfig };
  }
  if (env['KUBERNETES_SERVICE_HOST'] !== undefined) {
    config.loadFromCluster();
    return { config, source: 'in-cluster service account' };
  }
  return undefined;
}
