// The docs say which pods reach the webhook and what failurePolicy Fail does
// to each: the table in docs/asking-for-injection.md is checked row by row
// against src/inject/webhook-scope.ts, the process's copy of the webhook
// configuration's selectors (itself held to the chart by test/chart and to
// the kube-apiserver by test/e2e/missed-injections.test.ts); the README and
// the chart's failurePolicy docs must tell the same story.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { sentToWebhook, type WebhookScope } from '../../src/inject/webhook-scope.js';

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

const scope: WebhookScope = { excludedNamespaces: new Set(['kube-system', 'kube-node-lease', 'kube-public', 'sidecar-injector']) };

interface Row {
  namespace: string;
  annotation: string;
  sent: string;
  whileDown: string;
}

function reachTable(): Row[] {
  const doc = read('docs/asking-for-injection.md');
  const section = doc.split('\n## Which pods reach the webhook\n')[1]?.split('\n## ')[0] ?? '';
  return section
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| namespace |'))
    .map((line) => line.split('|').slice(1, -1).map((cell) => cell.trim()))
    .map(([namespace = '', annotation = '', sent = '', whileDown = '']) => ({ namespace, annotation, sent, whileDown }));
}

/** The namespaces (name, labels) a row's first cell stands for. */
type Labels = Record<string, string>;
type Annotations = Record<string, string> | undefined;

function namespacesOf(cell: string): Array<{ name: string; labels: Labels }> {
  const enabled: Labels = { 'sidecar.example/injection': 'enabled' };
  if (cell.startsWith('opted in')) return [{ name: 'shop', labels: enabled }];
  if (cell.startsWith('not opted in')) return [{ name: 'shop', labels: {} }, { name: 'shop', labels: { 'sidecar.example/injection': 'disabled' } }];
  if (cell.startsWith('excluded')) {
    return ['kube-system', 'kube-node-lease', 'kube-public', 'sidecar-injector'].flatMap((name) => [
      { name, labels: {} },
      { name, labels: enabled },
    ]);
  }
  throw new Error(`unknown namespace cell "${cell}"`);
}

/** The pod annotations a row's second cell stands for. */
function annotationsOf(cell: string): Annotations[] {
  const none: Annotations[] = [undefined, {}, { 'sidecar.example/inject': '' }];
  const asking: Annotations[] = [{ 'sidecar.example/inject': 'log-collector' }, { 'sidecar.example/inject': 'log-collector,http-prober' }, { 'sidecar.example/inject': 'true' }];
  const optOut: Annotations[] = [{ 'sidecar.example/inject': 'false' }];
  if (cell === 'none') return none;
  if (cell === 'template names or `true`') return asking;
  if (cell === '`false`') return optOut;
  if (cell === 'anything') return [...none, ...asking, ...optOut];
  throw new Error(`unknown annotation cell "${cell}"`);
}

describe('docs/asking-for-injection.md: which pods reach the webhook', () => {
  const rows = reachTable();

  it('has a row for opted-in, other and excluded namespaces with each kind of annotation', () => {
    expect(rows.map((r) => `${r.namespace.split(' (')[0]?.split(':')[0]} / ${r.annotation}`)).toEqual([
      'opted in / none',
      'opted in / template names or `true`',
      'opted in / `false`',
      'not opted in / template names or `true`',
      'not opted in / none',
      'not opted in / `false`',
      'excluded / anything',
    ]);
  });

  it.each(reachTable().map((row) => [`${row.namespace} / ${row.annotation}`, row] as const))('%s: as the webhook configuration decides', (_name, row) => {
    const sent = row.sent.startsWith('yes');
    expect(sent || row.sent.startsWith('no')).toBe(true);
    // Under failurePolicy Fail with the webhook down, exactly the pods sent are refused.
    expect(row.whileDown).toBe(sent ? 'refused' : 'created as it is');
    for (const ns of namespacesOf(row.namespace)) {
      for (const annotations of annotationsOf(row.annotation)) {
        expect({ ns, annotations, sent: sentToWebhook(annotations, ns.name, ns.labels, scope) }).toEqual({ ns, annotations, sent });
      }
    }
  });
});

describe('the README and the chart say the same', () => {
  const falseClaim = /did not ask never reach|only pods that asked are refused|only those reach the webhook/;

  it('README: every pod of an opted-in namespace except "false" is sent, and refused under Fail while the webhook is down', () => {
    const readme = read('README.md');
    expect(readme).not.toMatch(falseClaim);
    const paragraph = readme.split('\n\n').find((p) => p.startsWith('Which pods the apiserver sends to the webhook')) ?? '';
    expect(paragraph.replace(/\s+/g, ' ')).toMatch(
      /`sidecar\.example\/injection=enabled`, every pod .* except those annotated `"false"`; elsewhere, only pods with the annotation; in `kube-system`, `kube-node-lease`, `kube-public` and the webhook's own namespace, none\. With the chart's `failurePolicy: Fail`, exactly those pods are refused/,
    );
  });

  it("chart README and values.yaml: failurePolicy Fail refuses every pod of an opted-in namespace that does not opt out", () => {
    const row = read('charts/sidecar-injector/README.md')
      .split('\n')
      .find((line) => line.startsWith('| `webhook.failurePolicy` |'));
    expect(row).toBeDefined();
    expect(row).not.toMatch(falseClaim);
    expect(row).toContain('in a namespace labelled `sidecar.example/injection=enabled` every pod except those annotated `"false"`');
    const values = read('charts/sidecar-injector/values.yaml');
    expect(values).not.toMatch(falseClaim);
    const comment = values.split('\nwebhook:\n')[1]?.split('  failurePolicy:')[0]?.replace(/\s*#\s*/g, ' ') ?? '';
    expect(comment).toContain('in an opted-in namespace every pod that does not opt out with "false"');
  });
});
