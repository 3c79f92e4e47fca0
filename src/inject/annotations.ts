// Names and formats of the annotations that make up the user contract
// (DESIGN.md "Asking for injection"). Pure functions only.

export const ANNOTATION_PREFIX = 'sidecar.example/';
export const INJECT_ANNOTATION = `${ANNOTATION_PREFIX}inject`;
export const STATUS_ANNOTATION = `${ANNOTATION_PREFIX}status`;
export const INJECTION_LABEL = `${ANNOTATION_PREFIX}injection`;

/** `sidecar.example/<template>.<param>`: a per-pod parameter override. */
export function overrideAnnotation(template: string, param: string): string {
  return `${ANNOTATION_PREFIX}${template}.${param}`;
}

export type InjectRequest =
  | { kind: 'absent' }
  | { kind: 'opt_out' }
  | { kind: 'defaults' }
  | { kind: 'names'; names: string[] };

/** Reads `sidecar.example/inject`: a list of names, `true` (defaults) or `false` (opt out). */
export function parseInjectAnnotation(value: string | undefined): InjectRequest {
  if (value === undefined) return { kind: 'absent' };
  const trimmed = value.trim();
  const lowered = trimmed.toLowerCase();
  if (lowered === 'false') return { kind: 'opt_out' };
  if (lowered === 'true') return { kind: 'defaults' };
  const names = [...new Set(trimmed.split(',').map((n) => n.trim()).filter((n) => n !== ''))];
  return names.length === 0 ? { kind: 'absent' } : { kind: 'names', names };
}

export interface InjectedTemplateRecord {
  name: string;
  version: string;
}

/** The `sidecar.example/status` record: what was injected, the basis of idempotency. */
export interface InjectionStatus {
  templates: InjectedTemplateRecord[];
  containers: string[];
  initContainers: string[];
  volumes: string[];
}

export const EMPTY_STATUS: InjectionStatus = Object.freeze({
  templates: [],
  containers: [],
  initContainers: [],
  volumes: [],
}) as InjectionStatus;

export type StatusParse = { ok: true; status: InjectionStatus } | { ok: false; error: string };

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

/** Parses the status annotation; an unreadable one is reported, never trusted. */
export function parseStatusAnnotation(value: string | undefined): StatusParse {
  if (value === undefined) return { ok: true, status: EMPTY_STATUS };
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    return { ok: false, error: 'is not valid JSON' };
  }
  if (typeof raw !== 'object' || raw === null) return { ok: false, error: 'is not a JSON object' };
  const record = raw as Record<string, unknown>;
  const templates = record['templates'];
  if (
    !Array.isArray(templates) ||
    !templates.every(
      (t) => typeof t === 'object' && t !== null && typeof (t as Record<string, unknown>)['name'] === 'string',
    )
  ) {
    return { ok: false, error: 'has no valid "templates" list' };
  }
  const names = (key: string): string[] => {
    const list = record[key];
    return isStringArray(list) ? list : [];
  };
  return {
    ok: true,
    status: {
      templates: templates.map((t) => {
        const entry = t as Record<string, unknown>;
        return { name: String(entry['name']), version: String(entry['version'] ?? '') };
      }),
      containers: names('containers'),
      initContainers: names('initContainers'),
      volumes: names('volumes'),
    },
  };
}

export function formatStatusAnnotation(status: InjectionStatus): string {
  return JSON.stringify(status);
}
