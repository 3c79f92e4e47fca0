// The layer order of docs/design.md "Layers" is enforced by eslint.config.js
// (no-restricted-imports per directory). This runs the project's own lint
// configuration on sources that exist only in memory, at paths inside src/,
// so a rule that stopped biting would fail here rather than pass silently.
import { describe, expect, it } from '@jest/globals';
import { ESLint } from 'eslint';

const eslint = new ESLint({
  cwd: process.cwd(),
  // Only the boundary rule: the type-aware rules would need the file on disk.
  ruleFilter: ({ ruleId }) => ruleId === 'no-restricted-imports',
  overrideConfig: { files: ['src/**/*.ts'], languageOptions: { parserOptions: { projectService: false } } },
});

async function boundaryErrors(path: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: path });
  return (result?.messages ?? []).map((message) => `${message.ruleId ?? 'parse'}: ${message.message}`);
}

describe('layer boundaries (eslint no-restricted-imports)', () => {
  it('refuses src/admission importing src/templates or src/workloads, naming the rule and the layer order', async () => {
    const errors = await boundaryErrors(
      'src/admission/probe.ts',
      "import type { TemplateSet } from '../templates/model.js';\nimport { findPodSites } from '../workloads/pod-templates.js';\nexport type T = [TemplateSet, typeof findPodSites];\n",
    );
    expect(errors).toHaveLength(2);
    for (const error of errors) expect(error).toMatch(/^no-restricted-imports: .*src\/admission may import only src\/util, src\/inject/);
  });

  it('allows src/admission importing the pure core', async () => {
    expect(await boundaryErrors('src/admission/probe.ts', "import type { Pod } from '../inject/kube-types.js';\nexport type P = Pod;\n")).toEqual([]);
  });

  it('keeps src/inject off the I/O layers, the template store and the file system', async () => {
    for (const source of [
      "import { createLogger } from '../observability/logger.js';",
      "import type { KubeConnection } from '../kube/connection.js';",
      "import { createApp } from '../server/app.js';",
      "import { runServe } from '../cli/serve.js';",
      "import { TemplateStore } from '../templates/store.js';",
      "import { readFileSync } from 'node:fs';",
    ]) {
      expect(await boundaryErrors('src/inject/probe.ts', `${source}\nexport {};\n`)).toEqual([expect.stringMatching(/^no-restricted-imports: .*src\/inject/)]);
    }
    expect(await boundaryErrors('src/inject/probe.ts', "import type { TemplateSet } from '../templates/model.js';\nexport type S = TemplateSet;\n")).toEqual([]);
  });

  it('keeps src/policy (the policy compiler) as pure as src/inject, whose rules it reuses', async () => {
    for (const source of ["import { readFile } from 'node:fs/promises';", "import type { KubeConnection } from '../kube/connection.js';", "import { loadTemplateDirectory } from '../templates/load-directory.js';"]) {
      expect(await boundaryErrors('src/policy/probe.ts', `${source}\nexport {};\n`)).toEqual([expect.stringMatching(/^no-restricted-imports: .*src\/policy/)]);
    }
    expect(await boundaryErrors('src/policy/probe.ts', "import { mergeStatus } from '../inject/patch.js';\nexport { mergeStatus };\n")).toEqual([]);
  });

  it('keeps src/server (HTTP) from the Kubernetes API and the composition', async () => {
    expect(await boundaryErrors('src/server/probe.ts', "import { describeApiError } from '../kube/api-errors.js';\nexport { describeApiError };\n")).toHaveLength(1);
    expect(await boundaryErrors('src/server/probe.ts', "import { startWebhook } from '../serve/webhook.js';\nexport { startWebhook };\n")).toHaveLength(1);
  });
});
