// The Dockerfile's build stage runs on the builder's platform
// (`FROM --platform=$BUILDPLATFORM`) and its node_modules go into images for
// every architecture. That is right only while no production dependency is
// platform-specific: this reads package-lock.json to keep it so.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../support/paths.js';

interface LockEntry {
  dev?: boolean;
  hasInstallScript?: boolean;
  os?: string[];
  cpu?: string[];
}

describe('the image build', () => {
  it('builds on the builder platform, which holds because no production dependency has native code or a platform', () => {
    expect(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).toMatch(/^FROM --platform=\$BUILDPLATFORM \$\{BUILD_BASE\} AS build$/m);
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
    const production = Object.entries(lock.packages).filter(([path, entry]) => path !== '' && entry.dev !== true);
    expect(production.length).toBeGreaterThan(10);
    const platformBound = production
      .filter(([, entry]) => entry.hasInstallScript === true || entry.os !== undefined || entry.cpu !== undefined)
      .map(([path]) => path);
    expect(platformBound).toEqual([]);
  });
});
