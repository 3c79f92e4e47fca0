import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from '../../src/config/config.js';

describe('loadConfig', () => {
  it('has production defaults', () => {
    const config = loadConfig([], {});
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 8443,
      onProblem: 'warn',
      nativeSidecars: true,
      maxBodyBytes: 6 * 1024 * 1024,
      certFile: 'certs/tls.crt',
      keyFile: 'certs/tls.key',
      defaultTemplates: [],
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('takes flags over environment variables over defaults', () => {
    const env = { SIDECAR_INJECTOR_PORT: '9443', SIDECAR_INJECTOR_ON_PROBLEM: 'deny', SIDECAR_INJECTOR_DEFAULT_TEMPLATES: 'a, b' };
    expect(loadConfig([], env)).toMatchObject({ port: 9443, onProblem: 'deny', defaultTemplates: ['a', 'b'] });
    expect(loadConfig(['--port', '10443', '--on-problem=warn'], env)).toMatchObject({ port: 10443, onProblem: 'warn' });
  });

  it('reads boolean flags, their --no- form and =false', () => {
    expect(loadConfig(['--create-certs'], {}).createCerts).toBe(true);
    expect(loadConfig(['--no-native-sidecars'], {}).nativeSidecars).toBe(false);
    expect(loadConfig(['--native-sidecars=false'], {}).nativeSidecars).toBe(false);
  });

  it.each([
    [['--port', 'http'], '--port: "http" is not a whole number'],
    [['--port', '70000'], '--port: 70000 is outside 0..65535'],
    [['--on-problem', 'ignore'], '"ignore" is not one of warn, deny'],
    [['--bogus'], 'unknown flag --bogus'],
    [['--port'], '--port needs a value'],
    [['serve'], 'unexpected argument "serve"'],
  ])('rejects %j', (argv, message) => {
    expect(() => loadConfig(argv, {})).toThrow(ConfigError);
    expect(() => loadConfig(argv, {})).toThrow(message);
  });

  it('names the environment variable in errors', () => {
    expect(() => loadConfig([], { SIDECAR_INJECTOR_MAX_BODY_BYTES: '1' })).toThrow('SIDECAR_INJECTOR_MAX_BODY_BYTES: 1 is outside');
  });
});
