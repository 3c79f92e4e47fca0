// What makes a template "privileged": what Pod Security's baseline profile
// forbids (hostPath volumes, privileged containers, added capabilities, host
// ports). Templates cannot set pod-level fields, so hostNetwork/hostPID/hostIPC
// cannot come from a template at all. Only literal values are judged: a
// placeholder in these fields would not decode into the typed Pod anyway.

interface RawContainer {
  name: string;
  securityContext?: { privileged?: unknown; capabilities?: { add?: unknown } };
  ports?: Array<{ hostPort?: unknown }>;
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
  for (const raw of [...initContainers, ...containers]) {
    const container = raw as unknown as RawContainer;
    const security = container.securityContext;
    if (security?.privileged === true) reasons.push(`container "${container.name}" is privileged`);
    const added = security?.capabilities?.add;
    if (Array.isArray(added) && added.length > 0) {
      reasons.push(`container "${container.name}" adds capabilities ${added.map(String).join(', ')}`);
    }
    if ((container.ports ?? []).some((p) => p.hostPort !== undefined && p.hostPort !== 0)) {
      reasons.push(`container "${container.name}" uses a hostPort`);
    }
  }
  return reasons;
}
