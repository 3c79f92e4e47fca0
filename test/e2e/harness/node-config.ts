// The configuration files of the e2e node: containerd, the CNI network,
// kubelet and kube-proxy. Pure text from a layout, so node.ts only writes them.
// Every path the components would otherwise take from the host's defaults
// (/var/lib/*, /run/*, /etc/cni, /opt/cni) points into the node's directory,
// so that a teardown which removes that directory removes the node.

export interface NodeLayout {
  dir: string;
  nodeName: string;
  nodeIp: string;
  /** The pod network: one /24 on the node's bridge, whose first address is the node IP. */
  podCidr: string;
  bridge: string;
  /** kubelet's cgroupRoot (cgroupfs driver), created by the harness in every hierarchy. */
  cgroupRoot: string;
  runtimeBin: string;
  cniBin: string;
  pauseImage: string;
  ports: { kubelet: number; kubeletHealthz: number; proxyHealthz: number; proxyMetrics: number };
}

export const paths = (dir: string) => ({
  containerdConfig: `${dir}/containerd/config.toml`,
  containerdRoot: `${dir}/containerd/root`,
  containerdState: `${dir}/containerd/state`,
  criSocket: `${dir}/containerd/containerd.sock`,
  runcRoot: `${dir}/containerd/runc`,
  cniConfDir: `${dir}/cni/net.d`,
  cniIpamDir: `${dir}/cni/ipam`,
  kubeletDir: `${dir}/kubelet`,
  kubeletConfig: `${dir}/kubelet-config.yaml`,
  podLogs: `${dir}/pod-logs`,
  resolvConf: `${dir}/resolv.conf`,
  proxyConfig: `${dir}/kube-proxy-config.yaml`,
});

export function containerdConfig(layout: NodeLayout): string {
  const p = paths(layout.dir);
  return `version = 3
root = "${p.containerdRoot}"
state = "${p.containerdState}"
# /opt/containerd (managed opt) and the NRI socket under /var/run would be
# host paths; the node needs neither.
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.nri.v1.nri"]

[grpc]
  address = "${p.criSocket}"

[ttrpc]
  address = "${p.criSocket}.ttrpc"

[metrics]
  address = ""

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  # Nothing is ever pulled: every image is imported by the harness.
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "${layout.pauseImage}"

[plugins.'io.containerd.cri.v1.runtime']
  # The VM lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj below
  # containerd's own (the sandbox asks for -998) and fails with "can't get
  # final child's PID from pipe: EOF" unless the request is clamped.
  restrict_oom_score_adj = true
  # Network namespaces under the state dir, not /run/netns.
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "${layout.runtimeBin}/runc"
        Root = "${p.runcRoot}"
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["${layout.cniBin}"]
    conf_dir = "${p.cniConfDir}"
    max_conf_num = 1

[plugins.'io.containerd.grpc.v1.cri']
  # kubelet proxies exec/attach/port-forward to this server.
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
`;
}

export function cniConfList(layout: NodeLayout): string {
  const gateway = layout.nodeIp;
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: 'sidecar-e2e',
      plugins: [
        {
          type: 'bridge',
          bridge: layout.bridge,
          isGateway: true,
          // Pods only talk to each other, the node and services: no masquerade
          // rules, so nothing for a teardown to miss.
          ipMasq: false,
          // A pod reaching a Service whose endpoint is itself.
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: layout.podCidr, gateway }]],
            routes: [{ dst: '0.0.0.0/0' }],
            dataDir: paths(layout.dir).cniIpamDir,
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

export interface KubeletFiles {
  kubeconfig: string;
  clientCaFile: string;
  tlsCertFile: string;
  tlsPrivateKeyFile: string;
}

export function kubeletConfig(layout: NodeLayout, files: KubeletFiles): string {
  const p = paths(layout.dir);
  const config = {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // cgroups on this machine kind are the v1 hybrid layout; kubelet ≥ 1.35
    // refuses v1 unless told otherwise.
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    cgroupRoot: `/${layout.cgroupRoot}`,
    cgroupsPerQOS: true,
    containerRuntimeEndpoint: `unix://${p.criSocket}`,
    address: layout.nodeIp,
    port: layout.ports.kubelet,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: layout.ports.kubeletHealthz,
    tlsCertFile: files.tlsCertFile,
    tlsPrivateKeyFile: files.tlsPrivateKeyFile,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: files.clientCaFile },
    },
    authorization: { mode: 'Webhook' },
    podLogsDir: p.podLogs,
    resolvConf: p.resolvConf,
    clusterDomain: 'cluster.local',
    // The harness imports every image and nothing can be pulled again: never
    // garbage-collect them, and evict only when the disk is really full.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: {
      'memory.available': '100Mi',
      'nodefs.available': '1%',
      'nodefs.inodesFree': '1%',
      'imagefs.available': '1%',
      'imagefs.inodesFree': '1%',
    },
    serializeImagePulls: false,
    kubeAPIQPS: 50,
    kubeAPIBurst: 100,
  };
  return JSON.stringify(config, null, 2);
}

export function kubeProxyConfig(layout: NodeLayout, kubeconfig: string): string {
  const config = {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig },
    hostnameOverride: layout.nodeName,
    mode: 'nftables',
    clusterCIDR: layout.podCidr,
    healthzBindAddress: `127.0.0.1:${layout.ports.proxyHealthz}`,
    metricsBindAddress: `127.0.0.1:${layout.ports.proxyMetrics}`,
    nodePortAddresses: [`${layout.nodeIp}/32`],
    // 0 = leave the host's conntrack sysctls alone.
    conntrack: {
      maxPerCore: 0,
      min: 0,
      tcpEstablishedTimeout: '0s',
      tcpCloseWaitTimeout: '0s',
      udpTimeout: '0s',
      udpStreamTimeout: '0s',
    },
  };
  return JSON.stringify(config, null, 2);
}
