// "Privileged" is what Pod Security baseline forbids: one case per rule of
// baseline a template can break, each refused where the template does not
// allow the namespace; and what baseline allows stays unprivileged.
import { describe, expect, it } from '@jest/globals';
import { authorizeTemplate, type Workload } from '../../src/inject/authorize.js';
import { compileTemplate, formatProblem } from '../../src/templates/compile.js';
import type { CompiledTemplate } from '../../src/templates/model.js';
import { templateDocument } from '../support/templates.js';

function compiled(spec: Record<string, unknown>): CompiledTemplate {
  const result = compileTemplate(templateDocument('t', spec), 'test.yaml');
  if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
  return result.template;
}

const workload = (namespace: string): Workload => ({ namespace, namespaceLabels: {}, serviceAccount: 'default' });
const withSecurity = (securityContext: Record<string, unknown>): Record<string, unknown> => ({
  containers: [{ name: 'p', image: 'i', securityContext }],
});
const withContainer = (fields: Record<string, unknown>): Record<string, unknown> => ({
  containers: [{ name: 'p', image: 'i', ...fields }],
});

describe('a template is privileged when it needs what baseline forbids', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['a hostPath volume', { volumes: [{ name: 'host', hostPath: { path: '/var/log' } }] }, 'hostPath volume "host"'],
    ['a host port', withContainer({ ports: [{ containerPort: 80, hostPort: 80 }] }), 'container "p" uses a hostPort'],
    ['privileged: true', withSecurity({ privileged: true }), 'container "p" is privileged'],
    ['a capability beyond baseline', withSecurity({ capabilities: { add: ['CHOWN', 'NET_ADMIN'] } }), 'container "p" adds capabilities NET_ADMIN'],
    ['a capability from a placeholder', { ...withSecurity({ capabilities: { add: ['{{ params.cap }}'] } }), parameters: [{ name: 'cap', default: 'CHOWN' }] }, 'container "p" adds capabilities {{ params.cap }}'],
    ['seccomp Unconfined', withSecurity({ seccompProfile: { type: 'Unconfined' } }), 'container "p" sets seccompProfile Unconfined'],
    ['AppArmor Unconfined', withSecurity({ appArmorProfile: { type: 'Unconfined' } }), 'container "p" sets appArmorProfile Unconfined'],
    ['an SELinux type beyond baseline', withSecurity({ seLinuxOptions: { type: 'spc_t' } }), 'container "p" sets SELinux type spc_t'],
    ['an SELinux user', withSecurity({ seLinuxOptions: { user: 'system_u' } }), 'container "p" sets SELinux user'],
    ['an SELinux role', withSecurity({ seLinuxOptions: { role: 'system_r' } }), 'container "p" sets SELinux role'],
    ['procMount Unmasked', withSecurity({ procMount: 'Unmasked' }), 'container "p" sets procMount Unmasked'],
    ['a Windows HostProcess container', withSecurity({ windowsOptions: { hostProcess: true } }), 'container "p" is a Windows HostProcess container'],
    ['a probe host', withContainer({ readinessProbe: { httpGet: { host: '10.0.0.1', port: 80 } } }), 'container "p" sets a probe or lifecycle host'],
    ['a lifecycle host', withContainer({ lifecycle: { preStop: { tcpSocket: { host: 'node', port: 22 } } } }), 'container "p" sets a probe or lifecycle host'],
  ];

  it.each(cases)('%s', (_name, spec, reason) => {
    const open = compiled(spec);
    expect(open.privileged).toEqual([reason]);
    expect(authorizeTemplate(open, workload('shop'))).toMatchObject({ reason: 'privileged_not_allowed' });
    const listed = compiled({ ...spec, allowedNamespaces: ['platform'] });
    expect(authorizeTemplate(listed, workload('platform'))).toBeUndefined();
    expect(authorizeTemplate(listed, workload('shop'))).toMatchObject({ reason: 'privileged_not_allowed' });
  });

  it('an init container counts as much as a sidecar', () => {
    expect(compiled({ initContainers: [{ name: 'i', image: 'i', securityContext: { procMount: 'Unmasked' } }] }).privileged).toEqual([
      'container "i" sets procMount Unmasked',
    ]);
  });
});

describe('what baseline allows is not privileged', () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['every capability of baseline', withSecurity({ capabilities: { drop: ['ALL'], add: ['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT'] } })],
    ['privileged: false', withSecurity({ privileged: false })],
    ['seccomp Localhost', withSecurity({ seccompProfile: { type: 'Localhost', localhostProfile: 'p.json' } })],
    ['AppArmor RuntimeDefault', withSecurity({ appArmorProfile: { type: 'RuntimeDefault' } })],
    ['the SELinux types baseline allows', { containers: ['container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t'].map((type, i) => ({ name: `c${i}`, image: 'i', securityContext: { seLinuxOptions: { type, level: 's0:c1,c2' } } })) }],
    ['procMount Default', withSecurity({ procMount: 'Default' })],
    ['hostPort 0 and a probe without host', withContainer({ ports: [{ containerPort: 80, hostPort: 0 }], livenessProbe: { httpGet: { port: 80 } } })],
    ['an emptyDir volume', { volumes: [{ name: 'scratch', emptyDir: {} }] }],
  ];
  it.each(cases)('%s', (_name, spec) => {
    const template = compiled(spec);
    expect(template.privileged).toEqual([]);
    expect(authorizeTemplate(template, workload('shop'))).toBeUndefined();
  });
});
