import { describe, expect, it } from '@jest/globals';
import { ClusterTemplates } from '../../src/templates/cluster-templates.js';
import { MergedTemplates, type TemplateSource } from '../../src/templates/merged-templates.js';
import type { TemplateSet } from '../../src/templates/model.js';
import { setOf, templateDocument } from '../support/templates.js';

class FakeDirectory implements TemplateSource {
  constructor(
    public set: TemplateSet,
    public ready = true,
    public errors: string[] = [],
  ) {}
  current(): TemplateSet {
    return this.set;
  }
  isReady(): boolean {
    return this.ready;
  }
  lastErrors(): readonly string[] {
    return this.errors;
  }
}

const files = (): TemplateSet => setOf(templateDocument('log-collector', { version: 'file' }), templateDocument('http-prober', { version: 'file' }));

function clusterResource(name: string, version: string, generation = 1) {
  return { metadata: { name, uid: `uid-${name}`, generation }, spec: templateDocument(name, { version }).spec };
}

describe('files and cluster resources merged into one set', () => {
  it('without cluster resources the set is the directory set, revision included', () => {
    const directory = new FakeDirectory(files());
    const merged = new MergedTemplates(directory);
    merged.useCluster(new ClusterTemplates());
    expect(merged.current()).toBe(directory.set);
  });

  it('a resource adds its template; a name in both sources is the resource (precedence); the revision changes', () => {
    const directory = new FakeDirectory(files());
    const cluster = new ClusterTemplates();
    const merged = new MergedTemplates(directory);
    merged.useCluster(cluster);

    cluster.upsert(clusterResource('audit', 'c1'));
    cluster.upsert(clusterResource('log-collector', 'c1'));
    expect(merged.refresh()).toBe(true);
    const set = merged.current();
    expect([...set.templates.keys()]).toEqual(['audit', 'http-prober', 'log-collector']);
    expect(set.templates.get('log-collector')?.version).toBe('c1');
    expect(set.templates.get('log-collector')?.source).toBe('SidecarTemplate/log-collector');
    expect(set.templates.get('http-prober')?.version).toBe('file');
    expect(merged.fileSource('log-collector')).toBe('doc-0');
    expect(set.revision).not.toBe(directory.set.revision);

    // A new generation of a resource, or a directory change, is a new revision (the plan cache keys on it).
    const before = set.revision;
    cluster.upsert(clusterResource('audit', 'c2', 2));
    expect(merged.refresh()).toBe(true);
    expect(merged.current().revision).not.toBe(before);
    const afterEdit = merged.current().revision;
    directory.set = setOf(templateDocument('http-prober', { version: 'file2' }));
    expect(merged.refresh()).toBe(true);
    expect(merged.current().revision).not.toBe(afterEdit);
    expect(merged.refresh()).toBe(false);

    // Deleting the resource brings the file template back.
    directory.set = files();
    cluster.remove('log-collector');
    merged.refresh();
    expect(merged.current().templates.get('log-collector')?.version).toBe('file');
  });

  it('readiness waits for the first list of resources, and says why', () => {
    const directory = new FakeDirectory(files());
    const merged = new MergedTemplates(directory);
    expect(merged.isReady()).toBe(true);
    merged.useCluster(new ClusterTemplates());
    expect(merged.isReady()).toBe(false);
    merged.clusterFailed('HTTP 404: the server could not find the requested resource');
    expect(merged.lastErrors()).toEqual(['SidecarTemplate resources not listed yet: HTTP 404: the server could not find the requested resource']);
    merged.clusterSynced();
    expect(merged.isReady()).toBe(true);
    expect(merged.lastErrors()).toEqual([]);
    directory.ready = false;
    directory.errors = ['templates/x.yaml: bad'];
    expect(merged.isReady()).toBe(false);
    expect(merged.lastErrors()).toEqual(['templates/x.yaml: bad']);
  });
});
