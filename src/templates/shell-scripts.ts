// A parameter spliced into a shell script is shell code: a pod that overrides
// it runs its own commands in the sidecar. Passed as an env var and quoted
// ("$LOG_PATH") it stays data. This finds the splices, for `validate` to warn.
//
// A "shell script string" is the argument a shell reads as its program: in a
// container's `command` followed by its `args`, or in a probe's or lifecycle
// hook's `exec.command`, when the first element is a shell (sh, bash, ash,
// dash, ksh, mksh, zsh, by any path, or `busybox sh`), the first element
// after its `-c` option (alone or in a cluster such as `-ec`) that is not
// itself an option. Arguments after the script are the script's `$0`, `$1`…,
// which the shell does not parse, so they are not judged.
import type { Parameter } from './model.js';

const SHELLS = new Set(['sh', 'bash', 'ash', 'dash', 'ksh', 'mksh', 'zsh']);
const COMMAND_OPTION = /^-[A-Za-z]*c[A-Za-z]*$/;
const PARAM_PLACEHOLDER = /\{\{\s*params\.([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|[^}]*)?\}\}/g;

interface Element {
  value: unknown;
  field: string;
}

function basename(value: unknown): string {
  return typeof value === 'string' ? (value.split('/').at(-1) ?? '') : '';
}

/** The element holding the script, when `argv` runs a shell with `-c`. */
export function shellScriptOf<T extends Element>(argv: readonly T[]): T | undefined {
  let at = 0;
  if (basename(argv[at]?.value) === 'busybox') at += 1;
  if (!SHELLS.has(basename(argv[at]?.value))) return undefined;
  for (at += 1; at < argv.length; at += 1) {
    const value = argv[at]?.value;
    if (typeof value === 'string' && COMMAND_OPTION.test(value)) break;
  }
  for (at += 1; at < argv.length; at += 1) {
    const value = argv[at]?.value;
    if (!(typeof value === 'string' && value.startsWith('-'))) return argv[at];
  }
  return undefined;
}

function elements(list: unknown, field: string): Element[] {
  return Array.isArray(list) ? list.map((value: unknown, i) => ({ value, field: `${field}[${i}]` })) : [];
}

function object(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
}

/** The command lines a container runs: its own, and its probes' and hooks' exec commands. */
function commandLines(container: Record<string, unknown>, at: string): Element[][] {
  const lines = [[...elements(container['command'], `${at}.command`), ...elements(container['args'], `${at}.args`)]];
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    lines.push(elements(object(object(container[probe])?.['exec'])?.['command'], `${at}.${probe}.exec.command`));
  }
  for (const hook of ['postStart', 'preStop']) {
    const handler = object(object(container['lifecycle'])?.[hook]);
    lines.push(elements(object(handler?.['exec'])?.['command'], `${at}.lifecycle.${hook}.exec.command`));
  }
  return lines;
}

export interface ShellSplice {
  /** Dotted path of the script string, e.g. `spec.containers[0].args[0]`. */
  field: string;
  parameter: string;
}

/** Every string parameter placeholder inside a shell script string of these containers. */
export function shellSplices(
  lists: ReadonlyArray<readonly [readonly Record<string, unknown>[], string]>,
  parameters: ReadonlyMap<string, Parameter>,
): ShellSplice[] {
  const splices: ShellSplice[] = [];
  for (const [containers, at] of lists) {
    containers.forEach((container, i) => {
      for (const line of commandLines(container, `${at}[${i}]`)) {
        const script = shellScriptOf(line);
        if (typeof script?.value !== 'string') continue;
        const names = [...script.value.matchAll(PARAM_PLACEHOLDER)].map((match) => match[1] as string);
        for (const name of new Set(names)) {
          if (parameters.get(name)?.type === 'string') splices.push({ field: script.field, parameter: name });
        }
      }
    });
  }
  return splices;
}
