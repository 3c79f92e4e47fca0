import type { CompiledTemplate, TemplateSet } from '../templates/model.js';
import { dottedPath } from '../util/dotted-path.js';
import { renderedSchemaProblems } from '../templates/kube-schema/check-template.js';
import { isInt32 } from '../templates/kube-schema/validate.js';
import {
  ANNOTATION_PREFIX,
  INJECT_ANNOTATION,
  overrideAnnotation,
  parseInjectAnnotation,
  type InjectionStatus,
} from './annotations.js';
import type { Container, Pod } from './kube-types.js';
import { authorizeTemplate, type Workload } from './authorize.js';
import { expendable, fitted, shortProblem, type Problem } from './problems.js';
import { podContext, renderAppSettings, renderTemplate, type AppSettings, type RenderedTemplate } from './render.js';
import { readStatusRecord } from './status-record.js';

/** Why a pod got no sidecars. Also the `reason` metric label and log field. */
export type SkipReason =
  | 'not_a_pod_create'
  | 'opted_out'
  | 'not_requested'
  | 'no_default_templates'
  | 'already_injected'
  | 'nothing_injectable'
  /** A workload (not a pod) whose own metadata carries the inject annotation: warned about. */
  | 'annotation_on_workload'
  /** Not a valid pod: left to the apiserver's validation, which names the field. */
  | 'invalid_pod';

export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

/** The facts of an admission request that the decision reads. */
export interface AdmissionFacts {
  operation: string;
  resource: GroupVersionResource;
  subResource?: string | undefined;
  /** `request.namespace`: controller-made pods may not carry it in their metadata. */
  namespace: string;
  pod: Pod | undefined;
}

export interface InjectionSettings {
  onProblem: 'warn' | 'deny';
  /** Used for `inject: "true"` and for pods of opted-in namespaces without their own list. */
  defaultTemplates: readonly string[];
  /** False on clusters older than 1.29 (or with the SidecarContainers gate off). */
  nativeSidecars: boolean;
}

export interface NamespaceInfo {
  /** The namespace's own `sidecar.example/inject` list, when known. */
  defaultTemplates: readonly string[] | undefined;
  /**
   * Whether the namespace carries `sidecar.example/injection=enabled`, when the
   * webhook can see namespaces; undefined means "trust the webhook
   * configuration's selectors" (local mode, no API access).
   */
  optedIn?: boolean;
  /** The namespace's labels, when known: template namespace selectors read them. */
  labels?: Readonly<Record<string, string>>;
}

/** What a patch must do to the pod besides injecting new templates. */
export interface Repair {
  /** The application's part of the templates already injected, for containers that lack it (added after the injection). */
  completing: readonly AppSettings[];
  /** The record was malformed or not borne out by the pod: the patch replaces it, or removes it if nothing is injected. */
  replaceRecord: boolean;
}

export type Decision =
  | { kind: 'skip'; reason: SkipReason; problems: Problem[]; priorStatus?: InjectionStatus; repair?: Repair }
  | { kind: 'inject'; rendered: RenderedTemplate[]; priorStatus: InjectionStatus; repair: Repair; problems: Problem[] };

const NO_REPAIR: Repair = Object.freeze({ completing: [], replaceRecord: false });

const MAX_LISTED = 5;

function listNames(names: Iterable<string>): string {
  const all = [...names];
  const shown = all.slice(0, MAX_LISTED).join(', ');
  return all.length > MAX_LISTED ? `${shown}, …` : shown || 'none';
}

/** Only CREATE of `pods` itself is mutated; subresources (binding, eviction…) never. */
export function isPodCreate(facts: Pick<AdmissionFacts, 'operation' | 'resource' | 'subResource'>): boolean {
  return (
    facts.operation === 'CREATE' &&
    facts.resource.group === '' &&
    facts.resource.resource === 'pods' &&
    (facts.subResource ?? '') === ''
  );
}

export type Requested = { kind: 'skip'; reason: SkipReason; problems: Problem[] } | { kind: 'names'; names: readonly string[] };

/** Which templates a pod asks for: its annotation, else its namespace's list or the defaults. */
export function requestedTemplates(pod: Pod, namespace: string, settings: InjectionSettings, ns: NamespaceInfo): Requested {
  const request = parseInjectAnnotation(pod.metadata?.annotations?.[INJECT_ANNOTATION]);
  if (request.kind === 'opt_out') return { kind: 'skip', reason: 'opted_out', problems: [] };
  if (request.kind === 'names') return { kind: 'names', names: request.names };
  // No annotation: only pods of opted-in namespaces are meant to get the
  // defaults. The webhook configuration's selectors ensure that; when the
  // namespace is known, the label is checked here too.
  if (request.kind === 'absent' && ns.optedIn === false) return { kind: 'skip', reason: 'not_requested', problems: [] };
  const defaults = ns.defaultTemplates ?? settings.defaultTemplates;
  if (defaults.length > 0) return { kind: 'names', names: defaults };
  if (request.kind === 'absent') return { kind: 'skip', reason: 'not_requested', problems: [] };
  const problem = shortProblem(
    'no_default_templates',
    undefined,
    fitted`${INJECT_ANNOTATION}=true but namespace "${expendable(namespace)}" has no default templates`,
    `set the namespace's ${INJECT_ANNOTATION} annotation or --default-templates`,
  );
  return { kind: 'skip', reason: 'no_default_templates', problems: [problem] };
}

/** Resolves the parameters of one template; `undefined` params mean "skip the template". */
function resolveParameters(
  template: CompiledTemplate,
  annotations: Readonly<Record<string, string>>,
  problems: Problem[],
): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  let valid = true;
  for (const parameter of template.parameters.values()) {
    const key = overrideAnnotation(template.name, parameter.name);
    const value = annotations[key];
    params[parameter.name] = parameter.default;
    if (value === undefined) continue;
    if (!parameter.overridable) {
      problems.push(shortProblem('parameter_not_overridable', template.name, fitted`${key} ignored: the parameter is not overridable`));
    } else if (!parameter.pattern.test(value)) {
      valid = false;
      problems.push(
        shortProblem('invalid_parameter', template.name, fitted`${key}="${expendable(value)}" does not match ${parameter.patternSource}; template not injected`),
      );
    } else if (parameter.type === 'integer' && !(/^-?\d+$/.test(value) && isInt32(Number(value)))) {
      // A pattern can admit what is no int32 (the default [0-9]+ admits 20 digits); rendered, it would be a float or NaN.
      valid = false;
      problems.push(shortProblem('invalid_parameter', template.name, fitted`${key}="${expendable(value)}" is not a 32-bit integer; template not injected`));
    } else {
      params[parameter.name] = value;
    }
  }
  const prefix = `${ANNOTATION_PREFIX}${template.name}.`;
  for (const key of Object.keys(annotations)) {
    if (key.startsWith(prefix) && !template.parameters.has(key.slice(prefix.length))) {
      problems.push(shortProblem('unknown_parameter', template.name, fitted`${key} ignored: the template has no such parameter`));
    }
  }
  return valid ? params : undefined;
}

/**
 * Overrides that pass their patterns can still render a field the apiserver
 * cannot decode (a string parameter in a quantity); such a template is refused
 * like an override that fails its pattern. The defaults were checked at load,
 * so a pod without overrides costs nothing here.
 */
function overrideSchemaProblem(
  template: CompiledTemplate,
  params: Readonly<Record<string, string>>,
  pod: ReturnType<typeof podContext>,
): Problem | undefined {
  let overridden = false;
  for (const parameter of template.parameters.values()) overridden ||= params[parameter.name] !== parameter.default;
  if (!overridden) return undefined;
  const [first] = renderedSchemaProblems(template, { pod, params, template: { name: template.name, version: template.version } });
  if (first === undefined) return undefined;
  const field = dottedPath(first.path);
  return shortProblem('invalid_parameter', template.name, fitted`overrides make ${expendable(field)} invalid; template not injected`, `${field} ${first.message}`);
}

function addMountPaths(paths: Set<string>, list: readonly Container[] | undefined, injected: readonly string[]): void {
  for (const container of list ?? []) {
    if (injected.includes(container.name)) continue;
    for (const mount of container.volumeMounts ?? []) paths.add(mount.mountPath);
  }
}

/** Names and paths already taken in the pod, grown as templates are accepted. */
class TakenNames {
  readonly containers: Set<string>;
  readonly volumes: Set<string>;
  /** Mount paths of the application's containers, and of its init containers. */
  readonly mountPaths: Set<string>;
  readonly initMountPaths: Set<string>;

  constructor(pod: Pod, status: InjectionStatus) {
    const spec = pod.spec;
    this.containers = new Set();
    this.volumes = new Set();
    this.mountPaths = new Set();
    this.initMountPaths = new Set();
    for (const list of [spec.containers, spec.initContainers, spec.ephemeralContainers]) {
      for (const container of list ?? []) this.containers.add(container.name);
    }
    for (const volume of spec.volumes ?? []) this.volumes.add(volume.name);
    // A mount path is "taken" if an application container already uses it (injected sidecars are not the application).
    addMountPaths(this.mountPaths, spec.containers, status.containers);
    addMountPaths(this.initMountPaths, spec.initContainers, status.initContainers);
  }

  /** The first clash of a rendered template with what is taken, as a problem. */
  conflictOf(rendered: RenderedTemplate): Problem | undefined {
    const name = rendered.template.name;
    const containerNames = [...rendered.template.initContainerNames, ...rendered.template.containerNames];
    const container = containerNames.find((n) => this.containers.has(n));
    if (container !== undefined) {
      return shortProblem('name_conflict', name, fitted`template "${name}" not injected: the pod already has a container "${container}"`);
    }
    const volume = rendered.template.volumeNames.find((n) => this.volumes.has(n));
    if (volume !== undefined) {
      return shortProblem('name_conflict', name, fitted`template "${name}" not injected: the pod already has a volume "${volume}"`);
    }
    const mount = rendered.appVolumeMounts.find(
      (m) => this.mountPaths.has(m.mountPath) || (rendered.reachesInitContainers && this.initMountPaths.has(m.mountPath)),
    );
    if (mount !== undefined) {
      return shortProblem('mount_path_conflict', name, fitted`template "${name}" not injected: an application container already mounts ${expendable(mount.mountPath)}`);
    }
    return undefined;
  }

  claim(rendered: RenderedTemplate): void {
    for (const n of [...rendered.template.initContainerNames, ...rendered.template.containerNames]) this.containers.add(n);
    for (const n of rendered.template.volumeNames) this.volumes.add(n);
    for (const m of rendered.appVolumeMounts) {
      this.mountPaths.add(m.mountPath);
      if (rendered.reachesInitContainers) this.initMountPaths.add(m.mountPath);
    }
  }
}

/**
 * Decides what to inject into one admitted pod, and why not. Pure: everything
 * it needs is in its arguments.
 */
export function decideInjection(
  facts: AdmissionFacts,
  templates: TemplateSet,
  settings: InjectionSettings,
  ns: NamespaceInfo,
): Decision {
  const pod = facts.pod;
  if (pod === undefined || !isPodCreate(facts)) return { kind: 'skip', reason: 'not_a_pod_create', problems: [] };
  const requested = requestedTemplates(pod, facts.namespace, settings, ns);
  if (requested.kind === 'skip') return requested;

  const problems: Problem[] = [];
  const annotations = pod.metadata?.annotations ?? {};
  const record = readStatusRecord(pod, templates);
  if (record.problem !== undefined) problems.push(record.problem);
  const priorStatus = record.status;
  const injectedBefore = new Set(priorStatus.templates.map((t) => t.name));
  const taken = new TakenNames(pod, priorStatus);
  const context = podContext(pod, facts.namespace);
  const rendered: RenderedTemplate[] = [];
  let alreadyInjected = 0;
  const workload: Workload = {
    namespace: facts.namespace,
    namespaceLabels: ns.labels,
    serviceAccount: pod.spec.serviceAccountName || 'default',
  };

  for (const name of requested.names) {
    if (injectedBefore.has(name)) {
      alreadyInjected += 1;
      continue;
    }
    const template = templates.templates.get(name);
    if (template === undefined && templates.loadError !== undefined) {
      const { short, full } = templates.loadError;
      problems.push(shortProblem('templates_not_loaded', name, fitted`"${name}" not injected, templates failed to load: ${short}`, full));
      continue;
    }
    if (template === undefined) {
      const names = listNames(templates.templates.keys());
      problems.push(shortProblem('unknown_template', name, fitted`unknown template "${name}" (known: ${expendable(names)})`));
      continue;
    }
    const refusal = authorizeTemplate(template, workload);
    if (refusal !== undefined) {
      problems.push(refusal);
      continue;
    }
    const params = resolveParameters(template, annotations, problems);
    if (params === undefined) continue;
    const undecodable = overrideSchemaProblem(template, params, context);
    if (undecodable !== undefined) {
      problems.push(undecodable);
      continue;
    }
    const candidate = renderTemplate(template, params, context, settings.nativeSidecars);
    const conflict = taken.conflictOf(candidate);
    if (conflict !== undefined) {
      problems.push(conflict);
      continue;
    }
    taken.claim(candidate);
    rendered.push(candidate);
  }

  const completing = priorStatus.templates.length === 0 ? [] : appSettingsInjected(priorStatus, templates, annotations, context, settings);
  const repair = completing.length === 0 && record.problem === undefined ? NO_REPAIR : { completing, replaceRecord: record.problem !== undefined };
  if (rendered.length > 0) return { kind: 'inject', rendered, priorStatus, repair, problems };
  // Reinvocation of a pod whose other names were refused is still "already injected".
  const reason = alreadyInjected > 0 ? 'already_injected' : 'nothing_injectable';
  return repair === NO_REPAIR ? { kind: 'skip', reason, problems } : { kind: 'skip', reason, problems, priorStatus, repair };
}

/**
 * The application's part of the templates the record shows injected, as
 * rendered for this pod: what a container added later (by another webhook,
 * before the apiserver calls this one again) must get. Only for templates
 * loaded at the recorded version: what an older version added is not known.
 * Their override problems were reported when they were injected.
 */
function appSettingsInjected(
  status: InjectionStatus,
  templates: TemplateSet,
  annotations: Readonly<Record<string, string>>,
  context: ReturnType<typeof podContext>,
  settings: InjectionSettings,
): AppSettings[] {
  const out: AppSettings[] = [];
  for (const recorded of status.templates) {
    const template = templates.templates.get(recorded.name);
    if (template === undefined || template.version !== recorded.version) continue;
    if (template.appVolumeMounts.length === 0 && template.appEnv.length === 0) continue;
    if (out.some((a) => a.template === template)) continue;
    const params = resolveParameters(template, annotations, []);
    if (params !== undefined) out.push(renderAppSettings(template, params, context, settings.nativeSidecars));
  }
  return out;
}
