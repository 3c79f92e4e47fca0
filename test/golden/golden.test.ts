// Golden cases: test/golden/<case>/ holds `input.yaml` (the pod the apiserver
// sends), optional `case.yaml` (request facts and settings) and optional
// `templates/` (else the built-in ones). The expected pod and response are in
// `expected.yaml` and `response.yaml`; REFRESH_GOLDEN=true rewrites them, and
// the diff is then reviewed like code. Every case also re-plans its output,
// which must need no further patch (idempotency).
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import jsonpatch from 'fast-json-patch';
import { parse, stringify } from 'yaml';
import { reviewAdmission } from '../../src/admission/review.js';
import type { AdmissionRequest, AdmissionResponse } from '../../src/admission/types.js';
import type { InjectionSettings } from '../../src/inject/decide.js';
import type { Pod } from '../../src/inject/kube-types.js';
import { loadTemplateDirectory } from '../../src/templates/load-directory.js';
import type { TemplateSet } from '../../src/templates/model.js';

const GOLDEN = new URL('.', import.meta.url).pathname;
const BUILT_IN = new URL('../../templates', import.meta.url).pathname;
const refresh = process.env['REFRESH_GOLDEN'] === 'true';

interface CaseFile {
  description: string;
  namespace?: string;
  operation?: string;
  resource?: string;
  subResource?: string;
  dryRun?: boolean;
  settings?: Partial<InjectionSettings>;
  namespaceDefaults?: string[];
  /** The namespace's labels as the namespace cache would know them. */
  namespaceLabels?: Record<string, string>;
}

const cases = readdirSync(GOLDEN, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && existsSync(join(GOLDEN, entry.name, 'input.yaml')))
  .map((entry) => entry.name)
  .sort();

async function templatesFor(dir: string): Promise<TemplateSet> {
  const own = join(dir, 'templates');
  const loaded = await loadTemplateDirectory(existsSync(own) ? own : BUILT_IN);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  return loaded.set;
}

function review(pod: Pod, spec: CaseFile, templates: TemplateSet, uid: string): AdmissionResponse {
  const request: AdmissionRequest = {
    uid,
    operation: spec.operation ?? 'CREATE',
    resource: { group: '', version: 'v1', resource: spec.resource ?? 'pods' },
    ...(spec.subResource === undefined ? {} : { subResource: spec.subResource }),
    namespace: spec.namespace ?? 'default',
    dryRun: spec.dryRun ?? false,
    object: pod,
  };
  const settings: InjectionSettings = { onProblem: 'warn', defaultTemplates: [], nativeSidecars: true, ...spec.settings };
  return reviewAdmission(request, pod, { templates, settings, namespace: {
      defaultTemplates: spec.namespaceDefaults,
      ...(spec.namespaceLabels === undefined ? {} : { labels: spec.namespaceLabels }),
    },
  }).response;
}

function applyResponse(pod: Pod, response: AdmissionResponse): Pod {
  if (response.patch === undefined) return pod;
  const operations = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as jsonpatch.Operation[];
  // validate=true: an operation that does not apply throws, as it would in the apiserver.
  return jsonpatch.applyPatch(structuredClone(pod), operations, true, false).newDocument;
}

describe('golden cases', () => {
  it('finds the cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });

  describe.each(cases)('%s', (name) => {
    const dir = join(GOLDEN, name);
    const spec = (existsSync(join(dir, 'case.yaml')) ? parse(readFileSync(join(dir, 'case.yaml'), 'utf8')) : {}) as CaseFile;
    const input = parse(readFileSync(join(dir, 'input.yaml'), 'utf8')) as Pod;

    it('produces the expected pod and response', async () => {
      const templates = await templatesFor(dir);
      const response = review(structuredClone(input), spec, templates, `uid-${name}`);
      const output = applyResponse(input, response);
      const summary = {
        allowed: response.allowed,
        patched: response.patch !== undefined,
        patchType: response.patchType ?? null,
        warnings: response.warnings ?? [],
        status: response.status ?? null,
      };
      if (refresh) {
        writeFileSync(join(dir, 'expected.yaml'), stringify(output));
        writeFileSync(join(dir, 'response.yaml'), stringify(summary));
      }
      expect(response.uid).toBe(`uid-${name}`);
      expect(output).toEqual(parse(readFileSync(join(dir, 'expected.yaml'), 'utf8')));
      expect(summary).toEqual(parse(readFileSync(join(dir, 'response.yaml'), 'utf8')));
    });

    it('needs no patch when planned again (idempotent)', async () => {
      const templates = await templatesFor(dir);
      const once = applyResponse(input, review(structuredClone(input), spec, templates, 'first'));
      const again = review(structuredClone(once), spec, templates, 'second');
      expect(again.patch).toBeUndefined();
      expect(again.patchType).toBeUndefined();
    });
  });
});
