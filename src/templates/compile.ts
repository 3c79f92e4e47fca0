import { createHash } from 'node:crypto';
import { Ajv, type ErrorObject } from 'ajv';
import { compileValue, PlaceholderError, type Compiled } from './placeholders.js';
import { dottedPath } from '../util/dotted-path.js';
import type { LabelSelector } from '../util/label-selector.js';
import type { CompiledTemplate, Parameter, Position, SidecarMode } from './model.js';
import { privilegeReasons } from './privilege.js';
import { renderedSchemaProblems } from './kube-schema/check-template.js';
import { isInt32 } from './kube-schema/validate.js';
import { templateDocumentSchema } from './schema.js';
import { shellSplices } from './shell-scripts.js';

/** One validation failure, naming the file, the template and the field. */
export interface TemplateProblem {
  source: string;
  template: string | undefined;
  /** Dotted path inside the document, e.g. `spec.containers[0].name`. */
  field: string;
  message: string;
}

export function formatProblem(problem: TemplateProblem): string {
  const template = problem.template === undefined ? '' : ` template "${problem.template}":`;
  const field = problem.field === '' ? '' : ` ${problem.field}:`;
  return `${problem.source}:${template}${field} ${problem.message}`;
}

const ajv = new Ajv({ allErrors: true, strict: false });
const validateDocument = ajv.compile(templateDocumentSchema);

function pointerSegments(instancePath: string): string[] {
  if (instancePath === '') return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function describeAjvError(error: ErrorObject): { field: string; message: string } {
  const segments = pointerSegments(error.instancePath);
  if (error.keyword === 'additionalProperties') {
    const extra = String((error.params as { additionalProperty?: string }).additionalProperty);
    return { field: dottedPath([...segments, extra]), message: 'is not a known field' };
  }
  if (error.keyword === 'required') {
    const missing = String((error.params as { missingProperty?: string }).missingProperty);
    return { field: dottedPath([...segments, missing]), message: 'is required' };
  }
  if (error.keyword === 'not' && segments.at(-1) === 'restartPolicy') {
    return { field: dottedPath(segments), message: 'must not be set: the template mode decides it' };
  }
  if (error.keyword === 'type') {
    const types = String((error.params as { type?: string }).type).split(',');
    return { field: dottedPath(segments), message: `must be ${types.map((t) => (t === 'integer' ? 'an integer' : `a ${t}`)).join(' or ')}` };
  }
  if (error.keyword === 'anyOf') {
    return { field: dottedPath(segments), message: 'needs at least one entry in containers or initContainers' };
  }
  return { field: dottedPath(segments), message: error.message ?? 'is invalid' };
}

interface RawParameter {
  name: string;
  default: string | number;
  pattern?: string;
  overridable?: boolean;
  type?: 'string' | 'integer';
}

interface RawSpec {
  version?: string;
  description?: string;
  mode?: SidecarMode;
  position?: Position;
  allowedNamespaces?: string[];
  allowedNamespaceSelector?: LabelSelector;
  allowedServiceAccounts?: string[];
  parameters?: RawParameter[];
  containers?: Array<Record<string, unknown> & { name: string; volumeMounts?: Array<{ name: string }> }>;
  initContainers?: Array<Record<string, unknown> & { name: string; volumeMounts?: Array<{ name: string }> }>;
  volumes?: Array<Record<string, unknown> & { name: string }>;
  appContainers?: { volumeMounts?: Array<{ name: string; mountPath: string }>; env?: Array<{ name: string }> };
}

/** A valid template's warnings (`validate` prints them) or its problems. */
type CompileResult =
  | { ok: true; template: CompiledTemplate; warnings: TemplateProblem[] }
  | { ok: false; problems: TemplateProblem[] };

function compileParameter(raw: RawParameter, at: string, fail: (field: string, message: string) => void): Parameter {
  const type = raw.type ?? (typeof raw.default === 'number' ? 'integer' : 'string');
  // An overridable string has no implicit `.*`: whatever it admits, every pod
  // author may put into the sidecar, so the template must say what that is.
  if (type === 'string' && raw.overridable === true && raw.pattern === undefined) {
    fail(`${at}.pattern`, `is required: parameter "${raw.name}" is overridable, so its pattern must say which values a pod may set`);
  }
  const source = raw.pattern ?? (type === 'integer' ? '[0-9]+' : '.*');
  let pattern = /^(?:.*)$/s;
  try {
    pattern = new RegExp(`^(?:${source})$`, 'u');
  } catch (error) {
    fail(`${at}.pattern`, `is not a valid regular expression: ${(error as Error).message}`);
  }
  const value = String(raw.default);
  if (type === 'integer' && !/^-?\d+$/.test(value)) fail(`${at}.default`, `"${value}" is not an integer`);
  else if (type === 'integer' && !isInt32(Number(value))) fail(`${at}.default`, `${value} is not a 32-bit integer`);
  else if (!pattern.test(value)) fail(`${at}.default`, `"${value}" does not match the pattern ${source}`);
  return { name: raw.name, default: value, pattern, patternSource: source, overridable: raw.overridable ?? false, type };
}

function findDuplicates(names: readonly string[]): string[] {
  return names.filter((name, i) => names.indexOf(name) !== i);
}

/** Validates one parsed YAML document and compiles it; never throws on bad input. */
export function compileTemplate(document: unknown, source: string): CompileResult {
  const problems: TemplateProblem[] = [];
  const name =
    typeof (document as { metadata?: { name?: unknown } } | null)?.metadata?.name === 'string'
      ? ((document as { metadata: { name: string } }).metadata.name)
      : undefined;
  const fail = (field: string, message: string): void => {
    problems.push({ source, template: name, field, message });
  };

  if (!validateDocument(document)) {
    for (const error of validateDocument.errors ?? []) {
      const { field, message } = describeAjvError(error);
      fail(field, message);
    }
    return { ok: false, problems: dedupe(problems) };
  }
  const spec = (document as { spec: RawSpec }).spec;
  const templateName = name as string;

  const parameters = new Map<string, Parameter>();
  (spec.parameters ?? []).forEach((raw, i) => {
    const at = `spec.parameters[${i}]`;
    if (parameters.has(raw.name)) fail(`${at}.name`, `duplicate parameter "${raw.name}"`);
    parameters.set(raw.name, compileParameter(raw, at, fail));
  });

  const containers = spec.containers ?? [];
  const initContainers = spec.initContainers ?? [];
  const volumes = spec.volumes ?? [];
  const appMounts = spec.appContainers?.volumeMounts ?? [];
  const appEnv = spec.appContainers?.env ?? [];
  const allContainerNames = [...containers, ...initContainers].map((c) => c.name);
  for (const duplicate of findDuplicates(allContainerNames)) {
    fail('spec.containers', `container name "${duplicate}" is used twice`);
  }
  const volumeNames = volumes.map((v) => v.name);
  for (const duplicate of findDuplicates(volumeNames)) fail('spec.volumes', `volume name "${duplicate}" is used twice`);
  for (const duplicate of findDuplicates(appMounts.map((m) => m.mountPath))) {
    fail('spec.appContainers.volumeMounts', `mountPath "${duplicate}" is used twice`);
  }

  // Mounts may only reference the template's own volumes: the pod's volumes are
  // unknown here, and a mount of a missing volume makes the apiserver reject the pod.
  const checkMounts = (mounts: ReadonlyArray<{ name: string }> | undefined, at: string): void => {
    (mounts ?? []).forEach((mount, i) => {
      if (!volumeNames.includes(mount.name)) {
        fail(`${at}[${i}].name`, `mounts volume "${mount.name}", which the template does not define in spec.volumes`);
      }
    });
  };
  containers.forEach((c, i) => checkMounts(c.volumeMounts, `spec.containers[${i}].volumeMounts`));
  initContainers.forEach((c, i) => checkMounts(c.volumeMounts, `spec.initContainers[${i}].volumeMounts`));
  checkMounts(appMounts, 'spec.appContainers.volumeMounts');

  const options = { params: parameters };
  const compileList = (items: readonly unknown[], at: string): Compiled[] =>
    items.map((item, i) => {
      try {
        return compileValue(item, options);
      } catch (error) {
        if (!(error instanceof PlaceholderError)) throw error;
        fail(dottedPath([...at.split('.'), String(i), ...error.path]), error.message);
        return { kind: 'const', value: null, json: 'null' };
      }
    });
  const mode = spec.mode ?? 'regular';
  const compiled = {
    containers: compileList(containers, 'spec.containers'),
    // Native sidecars are the same containers with restartPolicy Always, compiled
    // once here so rendering needs no copy; regular ones serve when native is off.
    nativeContainers:
      mode === 'native'
        ? compileList(
            containers.map((c) => ({ ...c, restartPolicy: 'Always' })),
            'spec.containers',
          )
        : [],
    initContainers: compileList(initContainers, 'spec.initContainers'),
    volumes: compileList(volumes, 'spec.volumes'),
    appVolumeMounts: compileList(appMounts, 'spec.appContainers.volumeMounts'),
    appEnv: compileList(appEnv, 'spec.appContainers.env'),
  };
  // Names must be literal so conflicts are decided without rendering.
  for (const [list, at] of [
    [containers, 'spec.containers'],
    [initContainers, 'spec.initContainers'],
    [volumes, 'spec.volumes'],
    [appEnv, 'spec.appContainers.env'],
  ] as const) {
    list.forEach((item, i) => {
      if (item.name.includes('{{')) fail(`${at}[${i}].name`, 'names cannot contain placeholders');
    });
  }
  (spec.allowedNamespaceSelector?.matchExpressions ?? []).forEach((r, i) => {
    const needsValues = r.operator === 'In' || r.operator === 'NotIn';
    const count = r.values?.length ?? 0;
    if (needsValues && count === 0) fail(`spec.allowedNamespaceSelector.matchExpressions[${i}].values`, `must not be empty for ${r.operator}`);
    if (!needsValues && count > 0) fail(`spec.allowedNamespaceSelector.matchExpressions[${i}].values`, `must be empty for ${r.operator}`);
  });
  if (problems.length > 0) return { ok: false, problems };

  const version = spec.version ?? contentHash(document);
  const context = {
    pod: SAMPLE_POD,
    params: Object.fromEntries([...parameters.values()].map((p) => [p.name, p.default])),
    template: { name: templateName, version },
  };
  for (const problem of renderedSchemaProblems(compiled, context)) {
    fail(dottedPath(problem.path), `${problem.message}${placeholderNote(document, problem.path)}`);
  }
  if (problems.length > 0) return { ok: false, problems };

  const splices = shellSplices(
    [
      [containers, 'spec.containers'],
      [initContainers, 'spec.initContainers'],
    ],
    parameters,
  );
  const warnings = splices.map(({ field, parameter }) => ({
    source,
    template: templateName,
    field,
    message: `parameter "${parameter}" is placed into a shell script: pass it as an env var and quote it ("$VAR") instead`,
  }));
  return {
    ok: true,
    warnings,
    template: {
      name: templateName,
      version,
      source,
      description: spec.description ?? '',
      mode,
      position: spec.position ?? 'after',
      access: {
        namespaces: spec.allowedNamespaces === undefined ? undefined : new Set(spec.allowedNamespaces),
        namespaceSelector: spec.allowedNamespaceSelector,
        serviceAccounts: spec.allowedServiceAccounts === undefined ? undefined : new Set(spec.allowedServiceAccounts),
      },
      privileged: privilegeReasons(containers, initContainers, volumes),
      parameters,
      ...compiled,
      containerNames: containers.map((c) => c.name),
      initContainerNames: initContainers.map((c) => c.name),
      volumeNames,
      appEnvNames: appEnv.map((e) => e.name),
    },
  };
}

/** A pod to render the defaults for: the checks are of types, which pod values do not change. */
const SAMPLE_POD = { name: 'pod', generateName: 'pod-', namespace: 'default', serviceAccountName: 'default' };

/** Where a bad value came from a placeholder, the note says so (and how integer fields take one). */
function placeholderNote(document: unknown, path: readonly string[]): string {
  let raw: unknown = document;
  for (const segment of path) raw = (raw as Record<string, unknown> | undefined)?.[segment];
  if (typeof raw !== 'string' || !raw.includes('{{')) return '';
  const integer = raw.includes('| int') ? '' : "; an integer field takes exactly '{{ params.NAME | int }}' of an integer parameter";
  return ` (rendered from "${raw}" with the parameters' defaults${integer})`;
}

function dedupe(problems: TemplateProblem[]): TemplateProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.field}\u0000${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function contentHash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 12);
}
