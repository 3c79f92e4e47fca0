// Parameters cannot inject shell: an overridable string parameter must say
// which values a pod may set, and a string parameter placed into a shell
// script (instead of an env var) is warned about.
import { describe, expect, it } from '@jest/globals';
import { compileTemplate, formatProblem } from '../../src/templates/compile.js';
import { shellScriptOf } from '../../src/templates/shell-scripts.js';
import { templateDocument } from '../support/templates.js';

const compile = (spec: Record<string, unknown>) => compileTemplate(templateDocument('t', spec), 'test.yaml');

function warnings(spec: Record<string, unknown>): string[] {
  const result = compile(spec);
  if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
  return result.warnings.map(formatProblem);
}

describe('an overridable string parameter declares its pattern', () => {
  it('is refused without one, naming the file, the template and the parameter', () => {
    const result = compile({ parameters: [{ name: 'ok', default: 'a', pattern: '[a-z]+', overridable: true }, { name: 'cmd', default: 'ls', overridable: true }] });
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.problems.map(formatProblem)).toEqual([
      'test.yaml: template "t": spec.parameters[1].pattern: is required: parameter "cmd" is overridable, so its pattern must say which values a pod may set',
    ]);
  });

  it.each([
    ['a non-overridable string', { name: 'p', default: 'anything at all' }],
    ['an overridable integer', { name: 'p', default: 8080, overridable: true }],
    ['an overridable string with a pattern', { name: 'p', default: 'x', pattern: '[a-z]', overridable: true }],
  ])('%s needs none', (_name, parameter) => {
    expect(compile({ parameters: [parameter] }).ok).toBe(true);
  });
});

describe('the shell script string of a command line', () => {
  const argv = (...values: string[]) => values.map((value, i) => ({ value, field: `[${i}]` }));
  it.each([
    [['sh', '-c', 'S'], 'S'],
    [['/bin/sh', '-c', 'S', 'zero', 'one'], 'S'],
    [['bash', '-e', '-c', 'S'], 'S'],
    [['/usr/bin/bash', '-euc', 'S'], 'S'],
    [['busybox', 'sh', '-c', 'S'], 'S'],
    [['ash', '-c', '-x', 'S'], 'S'],
    [['sh', 'script.sh', 'arg'], undefined],
    [['/sidecar-http', '-c', 'S'], undefined],
    [['python3', '-c', 'S'], undefined],
  ])('%j → %s', (values, script) => {
    expect(shellScriptOf(argv(...values))?.value).toBe(script);
  });
});

describe('validate warns about a string parameter placed into a shell script', () => {
  const parameters = [
    { name: 'path', default: '/var/log', pattern: '/[a-z/]+', overridable: true },
    { name: 'port', default: 8080, overridable: true },
  ];
  const container = (fields: Record<string, unknown>) => ({ parameters, containers: [{ name: 'c', image: 'i', ...fields }] });

  it('in args after command [sh, -c]', () => {
    expect(warnings(container({ command: ['/bin/sh', '-c'], args: ['tail -F {{ params.path }}/*.log'] }))).toEqual([
      'test.yaml: template "t": spec.containers[0].args[0]: parameter "path" is placed into a shell script: pass it as an env var and quote it ("$VAR") instead',
    ]);
  });

  it('in the command itself, in an init container, and in exec probes and hooks', () => {
    expect(
      warnings({
        parameters,
        initContainers: [{ name: 'i', image: 'i', command: ['bash', '-c', 'ls {{params.path}}'] }],
        containers: [
          {
            name: 'c',
            image: 'i',
            readinessProbe: { exec: { command: ['sh', '-c', 'test -d {{ params.path }}'] } },
            lifecycle: { preStop: { exec: { command: ['sh', '-ec', 'rm -rf {{ params.path }}'] } } },
          },
        ],
      }).map((w) => w.split(': ')[2]),
    ).toEqual([
      'spec.containers[0].readinessProbe.exec.command[2]',
      'spec.containers[0].lifecycle.preStop.exec.command[2]',
      'spec.initContainers[0].command[2]',
    ]);
  });

  it.each([
    ['through an env var', { command: ['/bin/sh', '-c'], args: ['tail -F "$LOG_PATH"/*.log'], env: [{ name: 'LOG_PATH', value: '{{ params.path }}' }] }],
    ['as a positional argument after the script', { command: ['sh', '-c', 'tail -F "$1"', 'tail', '{{ params.path }}'] }],
    ['to a program that is not a shell', { command: ['/tail', '-F', '{{ params.path }}'] }],
    ['an integer parameter', { command: ['sh', '-c', 'nc -l {{ params.port }}'] }],
  ])('not %s', (_name, fields) => {
    expect(warnings(container(fields))).toEqual([]);
  });
});
