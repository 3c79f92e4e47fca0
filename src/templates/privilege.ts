// What makes a template "privileged": whatever Pod Security's `baseline`
// profile forbids in the parts of a pod a template can write (containers,
// init containers, volumes). The rules follow the checks of
// k8s.io/pod-security-admission/policy: check_hostPathVolumes.go,
// check_hostPorts.go, check_privileged.go, check_capabilities_baseline.go,
// check_seccompProfile_baseline.go, check_appArmorProfile.go,
// check_seLinuxOptions.go (container_engine_t allowed since 1.31),
// check_procMount_baseline.go, check_windowsHostProcess.go and
// check_hostProbesAndhostLifecycle.go (1.34). check_hostNamespaces.go and
// check_sysctls.go judge pod-level fields (hostNetwork, hostPID, hostIPC,
// securityContext.sysctls), which a template cannot set, so they cannot make
// one privileged. A placeholder in a judged string field could render to a
// forbidden value, so it counts as forbidden: only literals can be trusted.

/** Capabilities baseline lets a container add (check_capabilities_baseline.go). */
export const BASELINE_CAPABILITIES: ReadonlySet<string> = new Set([
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
]);

const BASELINE_SELINUX_TYPES: ReadonlySet<string> = new Set([
  '',
  'container_t',
  'container_init_t',
  'container_kvm_t',
  'container_engine_t',
]);

type Raw = Record<string, unknown>;

function object(value: unknown): Raw | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Raw) : undefined;
}

function templated(value: unknown): boolean {
  return typeof value === 'string' && value.includes('{{');
}

/** A string field is forbidden unless it is absent or one of `allowed`. */
function forbiddenString(value: unknown, allowed: (text: string) => boolean): boolean {
  if (value === undefined || value === null) return false;
  return templated(value) || typeof value !== 'string' || !allowed(value);
}

function containerReasons(container: Raw): string[] {
  const name = `container "${String(container['name'])}"`;
  const reasons: string[] = [];
  const security = object(container['securityContext']) ?? {};
  if (security['privileged'] === true || templated(security['privileged'])) reasons.push(`${name} is privileged`);
  const added = object(security['capabilities'])?.['add'];
  if (Array.isArray(added)) {
    const beyond = added.filter((cap) => forbiddenString(cap, (c) => BASELINE_CAPABILITIES.has(c)));
    if (beyond.length > 0) reasons.push(`${name} adds capabilities ${beyond.map(String).join(', ')}`);
  }
  const seccomp = object(security['seccompProfile'])?.['type'];
  if (forbiddenString(seccomp, (t) => t !== 'Unconfined')) reasons.push(`${name} sets seccompProfile ${String(seccomp)}`);
  const appArmor = object(security['appArmorProfile'])?.['type'];
  if (forbiddenString(appArmor, (t) => t !== 'Unconfined')) reasons.push(`${name} sets appArmorProfile ${String(appArmor)}`);
  const seLinux = object(security['seLinuxOptions']);
  if (seLinux !== undefined) {
    if (forbiddenString(seLinux['type'], (t) => BASELINE_SELINUX_TYPES.has(t))) {
      reasons.push(`${name} sets SELinux type ${String(seLinux['type'])}`);
    }
    for (const field of ['user', 'role'] as const) {
      if (forbiddenString(seLinux[field], (v) => v === '')) reasons.push(`${name} sets SELinux ${field}`);
    }
  }
  if (forbiddenString(security['procMount'], (m) => m === 'Default')) {
    reasons.push(`${name} sets procMount ${String(security['procMount'])}`);
  }
  const hostProcess = object(security['windowsOptions'])?.['hostProcess'];
  if (hostProcess === true || templated(hostProcess)) reasons.push(`${name} is a Windows HostProcess container`);
  const ports = Array.isArray(container['ports']) ? container['ports'] : [];
  if (ports.some((port) => { const host = object(port)?.['hostPort']; return host !== undefined && host !== 0; })) {
    reasons.push(`${name} uses a hostPort`);
  }
  const handlers = [
    ...['livenessProbe', 'readinessProbe', 'startupProbe'].map((probe) => object(container[probe])),
    ...['postStart', 'preStop'].map((hook) => object(object(container['lifecycle'])?.[hook])),
  ];
  const hostSet = handlers.some((handler) =>
    ['httpGet', 'tcpSocket'].some((kind) => forbiddenString(object(handler?.[kind])?.['host'], (h) => h === '')),
  );
  if (hostSet) reasons.push(`${name} sets a probe or lifecycle host`);
  return reasons;
}

/** Human-readable reasons, empty when the template is not privileged. */
export function privilegeReasons(
  containers: readonly Record<string, unknown>[],
  initContainers: readonly Record<string, unknown>[],
  volumes: readonly Record<string, unknown>[],
): string[] {
  const reasons: string[] = [];
  for (const volume of volumes) {
    if (volume['hostPath'] !== undefined) reasons.push(`hostPath volume "${String(volume['name'])}"`);
  }
  for (const container of [...initContainers, ...containers]) reasons.push(...containerReasons(container));
  return reasons;
}
