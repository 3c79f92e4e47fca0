// Jest runs the TypeScript sources as native ES modules (the project is
// "type": "module"): ts-jest transpiles each file in isolation (the type check
// is `npm run typecheck`), and Node's --experimental-vm-modules is set in the
// npm scripts. `.js` suffixes of relative imports are mapped back to `.ts`.
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  testEnvironment: 'node',
};

/** @type {import('jest').Config} */
export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts', '<rootDir>/test/golden/**/*.test.ts'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts', '<rootDir>/test/cli/**/*.test.ts'] },
    { ...common, displayName: 'chart', testMatch: ['<rootDir>/test/chart/**/*.test.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.test.ts'] },
    // The same files on the oldest minor the chart's kubeVersion claims
    // (E2E_KUBERNETES=oldest; docs/e2e.md#the-oldest-claimed-kubernetes), except:
    {
      ...common,
      displayName: 'e2e-oldest',
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
      testPathIgnorePatterns: [
        '/node_modules/',
        ...[
          // Their pods must run, and that control plane has no node: kubelet
          // and kube-scheduler may not be newer than the apiserver, and only
          // the newest are built.
          'node',
          'sidecars-at-work',
          'in-cluster',
          // MutatingAdmissionPolicy is GA from 1.36 only (admissionregistration.k8s.io/v1).
          'policy-mode',
          'helm-policy-mode',
          'policy-warnings',
        ].map((file) => `/test/e2e/${file}\\.test\\.ts$`),
      ],
      setupFiles: ['<rootDir>/test/e2e/support/oldest-kubernetes.ts'],
    },
  ],
};
