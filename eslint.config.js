// Lint on top of the strict type check: the recommended rules, plus the ones
// that catch async mistakes in a server (floating and misused promises).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// The layers of src/ and what each may import (docs/design.md "Layers"), lowest
// first. A directory not listed here imports freely; so does main.ts.
const MAY_IMPORT = {
  util: [],
  config: [],
  observability: [],
  templates: ['util'],
  inject: ['util', 'templates'],
  // Compiles templates to MutatingAdmissionPolicies: pure like inject, whose patch rules it reuses.
  policy: ['util', 'templates', 'inject'],
  workloads: ['util', 'inject'],
  admission: ['util', 'inject'],
  certs: ['util', 'observability'],
  kube: ['util', 'observability', 'certs', 'templates', 'inject'],
  server: ['util', 'observability', 'certs', 'templates', 'inject', 'admission'],
  serve: ['util', 'config', 'observability', 'certs', 'templates', 'inject', 'workloads', 'admission', 'kube', 'server'],
  cli: ['util', 'config', 'observability', 'certs', 'templates', 'inject', 'policy', 'workloads', 'admission', 'kube', 'server', 'serve'],
};

// The pure layers may use the templates' model and renderer, not the modules that read files.
const PURE = ['inject', 'policy'];
const pureExtra = (layer) => ({
  patterns: [{ regex: '^(\\.\\./)+templates/(store|load-directory)(\\.js)?$', message: `src/${layer} is pure: the templates it plans with are handed to it (docs/design.md "Layers")` }],
  paths: ['node:fs', 'node:fs/promises', 'node:http', 'node:https', 'node:net', 'node:child_process'].map((name) => ({
    name,
    message: `src/${layer} is pure: no I/O (docs/design.md "Layers")`,
  })),
});

function layerBoundaries() {
  return Object.entries(MAY_IMPORT).map(([layer, allowed]) => {
    const forbidden = Object.keys(MAY_IMPORT).filter((other) => other !== layer && !allowed.includes(other));
    const message = `src/${layer} may import only ${allowed.length === 0 ? 'packages' : allowed.map((l) => `src/${l}`).join(', ')} (docs/design.md "Layers")`;
    const patterns = forbidden.length === 0 ? [] : [{ regex: `^(\\.\\./)+(${forbidden.join('|')})(/|$)`, message }];
    const extra = PURE.includes(layer) ? pureExtra(layer) : { patterns: [], paths: [] };
    return {
      files: [`src/${layer}/**/*.ts`],
      rules: { 'no-restricted-imports': ['error', { patterns: [...patterns, ...extra.patterns], paths: extra.paths }] },
    };
  });
}

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'node_modules/', '.cache/', 'test/e2e/cluster/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { languageOptions: { globals: globals.node } },
  {
    files: ['src/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
    },
  },
  {
    rules: {
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
  ...layerBoundaries(),
);
