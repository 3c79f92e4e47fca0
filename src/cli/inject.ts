import jsonpatch from 'fast-json-patch';
import { stringify } from 'yaml';
import { INJECT_ANNOTATION } from '../inject/annotations.js';
import type { Pod } from '../inject/kube-types.js';
import { planInjection } from '../inject/plan.js';
import { describeProblem } from '../inject/problems.js';
import { misplacedInjectAnnotation } from '../inject/workload-annotation.js';
import { findPodSites, SUPPORTED_KINDS } from '../workloads/pod-templates.js';
import { parseCommandArgs } from './args.js';
import type { CliIo } from './io.js';
import { creationOf, loadOffline, OFFLINE_HELP, OFFLINE_OPTIONS } from './manifests.js';

const HELP = `Usage: sidecar-injector inject -f FILE|- [options]

Prints the manifests of FILE (or stdin) with the sidecars injected, exactly as
the webhook would inject the pods they create. Kinds: ${SUPPORTED_KINDS.join(', ')};
several YAML documents per file are fine. Warnings go to stderr.

Options:
${OFFLINE_HELP}
  --explain                 say per pod template what would be injected and why
                            not, instead of printing manifests (= explain)
`;

export async function runInject(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseCommandArgs(argv, { ...OFFLINE_OPTIONS, explain: { type: 'boolean', default: false } });
  if (args.values['help']) {
    io.stdout(HELP);
    return 0;
  }
  if (args.values['explain'] === true) {
    const { runExplain } = await import('./explain.js');
    return runExplain(argv.filter((a) => a !== '--explain'), io);
  }
  const offline = await loadOffline('inject', args.values, io);
  if (typeof offline === 'string') return io.fail(offline);
  const outputs: string[] = [];
  let denied = false;
  for (const object of offline.objects) {
    const misplaced = misplacedInjectAnnotation(object, INJECT_ANNOTATION);
    if (misplaced !== undefined) io.stderr(`Warning: ${describeProblem(misplaced)}\n`);
    const { sites } = findPodSites(object, String(args.values['namespace']));
    for (const site of sites) {
      const outcome = planInjection(creationOf(site), offline.templates, offline.settings, { defaultTemplates: undefined });
      // Offline there is no header limit: each problem in full, not the short warning.
      if (outcome.result !== 'denied') for (const problem of outcome.problems) io.stderr(`Warning: ${site.label}: ${describeProblem(problem)}\n`);
      if (outcome.result === 'denied') {
        io.stderr(`Error: ${site.label}: ${outcome.message}\n`);
        denied = true;
      } else if (outcome.patch !== undefined) {
        const operations = JSON.parse(outcome.patch) as jsonpatch.Operation[];
        const patched = jsonpatch.applyPatch(structuredClone(site.pod), operations, true, false).newDocument as Pod;
        site.replace(patched);
      }
    }
    outputs.push(stringify(object, { lineWidth: 0 }));
  }
  io.stdout(outputs.join('---\n'));
  return denied ? 1 : 0;
}
