// A template's containers, init containers, volumes and application mounts and
// env are checked against the apiserver's core/v1 schema, rendered with the
// parameters' defaults: what the apiserver could not decode is refused at
// load, naming the file, the template and the field.
import { describe, expect, it } from '@jest/globals';
import { compileTemplate, formatProblem } from '../../src/templates/compile.js';
import { kubeSchemaProblems } from '../../src/templates/kube-schema/validate.js';
import { templateDocument } from '../support/templates.js';

function problemsOf(spec: Record<string, unknown>): string[] {
  const result = compileTemplate(templateDocument('t', spec), 'dir/t.yaml');
  return result.ok ? [] : result.problems.map(formatProblem);
}

const container = (fields: Record<string, unknown>) => ({ containers: [{ name: 'c', image: 'x', ...fields }] });

describe('template objects are checked against core/v1', () => {
  it.each([
    ['a port written as a string', container({ ports: [{ containerPort: '8080' }] }), 'spec.containers[0].ports[0].containerPort: must be an integer'],
    ['a quantity with a space', container({ resources: { limits: { memory: '64 Mi' } } }), 'spec.containers[0].resources.limits.memory: must be a quantity'],
    ['a misspelt field', container({ imagePullPolice: 'Always' }), 'spec.containers[0].imagePullPolice: is not a known field'],
    ['a value outside an enum', container({ imagePullPolicy: 'Sometimes' }), 'spec.containers[0].imagePullPolicy: must be one of "Always", "IfNotPresent", "Never"'],
    ['a port beyond int32', container({ ports: [{ containerPort: 4294967296 }] }), 'spec.containers[0].ports[0].containerPort: must be a 32-bit integer'],
    ['a boolean where a probe port goes', container({ livenessProbe: { tcpSocket: { port: true } } }), 'spec.containers[0].livenessProbe.tcpSocket.port: must be an integer or a string'],
    ['a misspelt field deep in an init container', { initContainers: [{ name: 'i', image: 'x', securityContext: { runAsUsr: 1 } }] }, 'spec.initContainers[0].securityContext.runAsUsr: is not a known field'],
    ['a volume source field of the wrong type', { volumes: [{ name: 'v', emptyDir: { sizeLimit: 'lots' } }] }, 'spec.volumes[0].emptyDir.sizeLimit: must be a quantity'],
    ['an application env var with a misspelt source', { volumes: [{ name: 'v' }], appContainers: { env: [{ name: 'E', valueFrm: {} }] } }, 'spec.appContainers.env[0].valueFrm: is not a known field'],
    ['an application mount with a bad propagation', { volumes: [{ name: 'v', emptyDir: {} }], appContainers: { volumeMounts: [{ name: 'v', mountPath: '/v', mountPropagation: 'Both' }] } }, 'spec.appContainers.volumeMounts[0].mountPropagation: must be one of'],
  ])('refuses %s, naming file, template and field', (_what, spec, message) => {
    const problems = problemsOf(spec);
    expect(problems.join('\n')).toContain(`dir/t.yaml: template "t": ${message}`);
  });

  it('says when the bad value came from a placeholder, and how an integer field takes one', () => {
    const problems = problemsOf({
      parameters: [{ name: 'port', type: 'integer', default: 8080 }],
      ...container({ ports: [{ containerPort: '{{ params.port }}' }] }),
    });
    expect(problems).toEqual([
      `dir/t.yaml: template "t": spec.containers[0].ports[0].containerPort: must be an integer (rendered from "{{ params.port }}" with the parameters' defaults; an integer field takes exactly '{{ params.NAME | int }}' of an integer parameter)`,
    ]);
  });

  it('refuses a string default that renders an invalid quantity', () => {
    const problems = problemsOf({
      parameters: [{ name: 'memory', default: '64 Mi' }],
      ...container({ resources: { limits: { memory: '{{ params.memory }}' } } }),
    });
    expect(problems.join('\n')).toContain('spec.containers[0].resources.limits.memory: must be a quantity such as 64Mi, 0.5 or 250m (rendered from "{{ params.memory }}"');
  });

  it('accepts typed placeholders and the usual shapes', () => {
    const result = compileTemplate(
      templateDocument('t', {
        parameters: [
          { name: 'port', type: 'integer', default: 9090 },
          { name: 'memory', default: '64Mi', pattern: '[0-9]+[KMG]i', overridable: true },
        ],
        volumes: [{ name: 'v', emptyDir: { sizeLimit: '1Gi' } }],
        ...container({
          ports: [{ containerPort: '{{ params.port | int }}', protocol: 'TCP' }],
          resources: { requests: { cpu: 0.1, memory: '{{ params.memory }}' }, limits: { cpu: '250m', memory: '{{ params.memory }}' } },
          readinessProbe: { httpGet: { port: '{{ params.port | int }}', path: '/ready' } },
          volumeMounts: [{ name: 'v', mountPath: '/v' }],
          env: [{ name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
        }),
      }),
      'dir/t.yaml',
    );
    expect(result.ok ? [] : result.problems.map(formatProblem)).toEqual([]);
  });
});

describe('integer parameters render int32 or the template is refused', () => {
  it.each([
    ['a default beyond int32', 3000000000, 'spec.parameters[0].default: 3000000000 is not a 32-bit integer'],
    ['a default too large for a double to hold exactly (YAML reads 99999999999999999999999 as 1e23)', Number('99999999999999999999999'), 'spec.parameters[0].default: "1e+23" is not an integer'],
    ['a fractional default', 1.5, 'spec.parameters[0].default: must be a string or an integer'],
  ])('%s', (_what, value, message) => {
    const problems = problemsOf({ parameters: [{ name: 'port', type: 'integer', default: value }], ...container({}) });
    expect(problems.join('\n')).toContain(message);
  });

  it('refuses a default that a non-digit pattern admits', () => {
    const problems = problemsOf({ parameters: [{ name: 'port', type: 'integer', default: 'http', pattern: '[a-z0-9]+' }], ...container({}) });
    expect(problems.join('\n')).toContain('spec.parameters[0].default: "http" is not an integer');
  });
});

describe('kubeSchemaProblems', () => {
  it('accepts a well-formed container and reports one problem per field', () => {
    expect(kubeSchemaProblems('Container', { name: 'c', image: 'x', ports: [{ containerPort: 80 }], resources: { limits: { cpu: '1', memory: '1Gi' } } })).toEqual([]);
    // A quantity's two branches (string, number) are one problem, not two.
    expect(kubeSchemaProblems('Container', { name: 'c', resources: { limits: { cpu: [] } } })).toEqual([
      { path: ['resources', 'limits', 'cpu'], message: 'must be a quantity such as 64Mi, 0.5 or 250m' },
    ]);
  });
});
