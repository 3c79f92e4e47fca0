import { describe, expect, it } from '@jest/globals';
import { compileValue, PlaceholderError, renderValue } from '../../src/templates/placeholders.js';

const params = new Map([
  ['port', { type: 'integer' as const }],
  ['path', { type: 'string' as const }],
]);
const context = {
  pod: { name: 'web-', namespace: 'shop', generateName: 'web-', serviceAccountName: 'default' },
  params: { port: '8080', path: '/ready' },
  template: { name: 't', version: '1' },
};

describe('placeholders', () => {
  it('substitutes pod, params and template fields inside strings', () => {
    const compiled = compileValue({ url: 'http://localhost:{{ params.port }}{{params.path}}', ns: '{{ pod.namespace }}/{{ template.name }}' }, { params });
    expect(renderValue(compiled, context)).toEqual({ url: 'http://localhost:8080/ready', ns: 'shop/t' });
  });

  it('renders `| int` as a number and plain placeholders as strings', () => {
    const compiled = compileValue({ containerPort: '{{ params.port | int }}', value: '{{ params.port }}' }, { params });
    expect(renderValue(compiled, context)).toEqual({ containerPort: 8080, value: '8080' });
  });

  it('shares constant subtrees instead of copying them', () => {
    const resources = { requests: { cpu: '10m' } };
    const compiled = compileValue({ resources, name: '{{ pod.name }}' }, { params });
    const a = renderValue(compiled, context) as { resources: unknown };
    const b = renderValue(compiled, context) as { resources: unknown };
    expect(a.resources).toBe(b.resources);
    expect(Object.isFrozen(a.resources)).toBe(true);
  });

  it.each([
    ['{{ params.missing }}', 'not a declared parameter'],
    ['{{ pod.uid }}', 'pod.uid }} is unknown'],
    ['{{ env.HOME }}', 'unknown scope'],
    ['{{ params.port', 'malformed placeholder'],
    ['x{{ params.port | int }}', 'must be the whole value'],
    ['{{ params.path | int }}', 'needs a parameter of type integer'],
  ])('rejects %s', (text, message) => {
    expect(() => compileValue({ a: [text] }, { params })).toThrow(PlaceholderError);
    try {
      compileValue({ a: [text] }, { params });
    } catch (error) {
      expect((error as PlaceholderError).message).toContain(message);
      expect((error as PlaceholderError).path).toEqual(['a', '0']);
    }
  });
});
