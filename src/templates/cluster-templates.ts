// SidecarTemplate resources → templates in force, one resource at a time.
// Unlike the directory (accepted whole or not at all), each resource is judged
// on its own: an invalid edit keeps that resource's last valid version and is
// reported on its status. Pure: the caller passes `now` and does the I/O.
import { isDeepStrictEqual } from 'node:util';
import { compileTemplate, formatProblem, type TemplateProblem } from './compile.js';
import { TEMPLATE_API_VERSION, TEMPLATE_KIND, type CompiledTemplate } from './model.js';

export const VALID_CONDITION = 'Valid';
/** A condition message longer than this is cut (metav1.Condition allows 32768). */
const MAX_MESSAGE = 4096;

export interface TemplateCondition {
  type: string;
  status: 'True' | 'False';
  reason: 'Valid' | 'Invalid';
  message: string;
  observedGeneration: number;
  lastTransitionTime: string;
}

export interface SidecarTemplateStatus {
  observedGeneration?: number;
  /** The generation whose spec is in force, and that spec: any replica can serve it after an invalid edit. */
  activeGeneration?: number;
  activeVersion?: string;
  activeSpec?: unknown;
  conditions?: TemplateCondition[];
}

/** The fields of a SidecarTemplate object this module reads. */
export interface SidecarTemplateObject {
  metadata: { name?: string; uid?: string; generation?: number };
  spec?: unknown;
  status?: SidecarTemplateStatus;
}

interface Active {
  template: CompiledTemplate;
  generation: number;
  spec: unknown;
}

interface Entry {
  uid: string;
  generation: number;
  /** Problems of the current generation; empty when it is valid. */
  problems: readonly TemplateProblem[];
  active: Active | undefined;
}

export function resourceSource(name: string): string {
  return `${TEMPLATE_KIND}/${name}`;
}

function compileSpec(name: string, spec: unknown): ReturnType<typeof compileTemplate> {
  const document = { apiVersion: TEMPLATE_API_VERSION, kind: TEMPLATE_KIND, metadata: { name }, spec };
  return compileTemplate(document, resourceSource(name));
}

/** The status's recorded spec in force, when it still compiles (another replica, or this one before a restart, accepted it). */
function recordedActive(name: string, status: SidecarTemplateStatus | undefined): Active | undefined {
  if (status?.activeSpec === undefined || status.activeGeneration === undefined) return undefined;
  const result = compileSpec(name, status.activeSpec);
  return result.ok ? { template: result.template, generation: status.activeGeneration, spec: status.activeSpec } : undefined;
}

function newer(a: Active | undefined, b: Active | undefined): Active | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return b.generation > a.generation ? b : a;
}

export class ClusterTemplates {
  private readonly entries = new Map<string, Entry>();

  /** Takes in an added or changed resource; true when the template it puts in force changed. */
  upsert(object: SidecarTemplateObject): boolean {
    const name = object.metadata.name ?? '';
    const uid = object.metadata.uid ?? '';
    const generation = object.metadata.generation ?? 0;
    const before = this.entries.get(name);
    const sameObject = before !== undefined && before.uid === uid;
    // A status-only change (generation unchanged) needs no recompiling, unless
    // it brings a recorded version this process does not have yet.
    if (sameObject && before.generation === generation && (before.active !== undefined || object.status?.activeSpec === undefined)) {
      return false;
    }
    const result = compileSpec(name, object.spec);
    const entry: Entry = result.ok
      ? { uid, generation, problems: [], active: { template: result.template, generation, spec: object.spec } }
      : {
          uid,
          generation,
          problems: result.problems,
          active: newer(sameObject ? before.active : undefined, recordedActive(name, object.status)),
        };
    this.entries.set(name, entry);
    return activeKey(before) !== activeKey(entry);
  }

  /** Forgets a deleted resource; true when it had a template in force. */
  remove(name: string): boolean {
    const entry = this.entries.get(name);
    this.entries.delete(name);
    return entry?.active !== undefined;
  }

  /** Templates in force, with a key that changes whenever the template does (for the set's revision). */
  active(): Array<{ template: CompiledTemplate; key: string }> {
    const out: Array<{ template: CompiledTemplate; key: string }> = [];
    for (const entry of this.entries.values()) {
      if (entry.active !== undefined) out.push({ template: entry.active.template, key: activeKey(entry) as string });
    }
    return out;
  }

  /** Problems of a resource's current generation (empty when valid or unknown). */
  problems(name: string): readonly TemplateProblem[] {
    return this.entries.get(name)?.problems ?? [];
  }

  /**
   * The status the resource should carry. `fileSource` is the file template
   * of the same name, if any (the resource takes precedence over it while it
   * has a version in force). `previous` keeps lastTransitionTime when the
   * condition's status did not change.
   */
  desiredStatus(name: string, fileSource: string | undefined, previous: SidecarTemplateStatus | undefined, now: Date): SidecarTemplateStatus {
    const entry = this.entries.get(name);
    if (entry === undefined) return {};
    const valid = entry.problems.length === 0;
    const parts = valid ? ['the template is valid and in force'] : [entry.problems.map(formatProblem).join('; ')];
    if (!valid) {
      parts.push(
        entry.active === undefined
          ? 'no valid version: the template is not in force'
          : `version ${entry.active.template.version} (generation ${entry.active.generation}) stays in force`,
      );
    }
    if (fileSource !== undefined) {
      parts.push(entry.active === undefined ? `the file template ${fileSource} is used instead` : `it takes precedence over the file template ${fileSource}`);
    }
    const status: TemplateCondition['status'] = valid ? 'True' : 'False';
    const before = previous?.conditions?.find((c) => c.type === VALID_CONDITION);
    const condition: TemplateCondition = {
      type: VALID_CONDITION,
      status,
      reason: valid ? 'Valid' : 'Invalid',
      message: truncate(parts.join('; ')),
      observedGeneration: entry.generation,
      lastTransitionTime: before?.status === status ? before.lastTransitionTime : now.toISOString().replace(/\.\d+Z$/, 'Z'),
    };
    return {
      observedGeneration: entry.generation,
      ...(entry.active === undefined
        ? {}
        : { activeGeneration: entry.active.generation, activeVersion: entry.active.template.version, activeSpec: entry.active.spec }),
      conditions: [condition, ...(previous?.conditions ?? []).filter((c) => c.type !== VALID_CONDITION)],
    };
  }
}

function activeKey(entry: Entry | undefined): string | undefined {
  return entry?.active === undefined ? undefined : `${entry.uid}/${entry.active.generation}`;
}

function truncate(message: string): string {
  return message.length <= MAX_MESSAGE ? message : `${message.slice(0, MAX_MESSAGE - 1)}…`;
}

/** Whether the stored status differs from the desired one in anything but timestamps (key order does not matter). */
export function statusDiffers(stored: SidecarTemplateStatus | undefined, desired: SidecarTemplateStatus): boolean {
  const strip = (status: SidecarTemplateStatus | undefined): unknown => ({
    ...status,
    conditions: (status?.conditions ?? []).map(({ lastTransitionTime: _ignored, ...rest }) => rest),
  });
  return !isDeepStrictEqual(strip(stored), strip(desired));
}
