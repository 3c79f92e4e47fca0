// The release workflow publishes only a tag vX.Y.Z whose X.Y.Z is package.json's
// version and the chart's version and appVersion (the image tag the chart
// deploys by default). scripts/check-release-version.sh is that gate; here it
// runs on the repository as it is, so a version bump that forgets one of the
// three fails CI long before anyone pushes a tag.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ROOT } from '../support/paths.js';

const SCRIPT = join(ROOT, 'scripts', 'check-release-version.sh');
const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

function check(tag: string): { status: number | null; stderr: string } {
  const run = spawnSync('bash', [SCRIPT, tag], { encoding: 'utf8' });
  return { status: run.status, stderr: run.stderr };
}

describe('release version check', () => {
  it(`accepts v${version}: package.json, Chart.yaml version and appVersion agree`, () => {
    const { status, stderr } = check(`v${version}`);
    expect(stderr).toContain(`v${version} matches`);
    expect(status).toBe(0);
  });

  it('refuses a tag naming another version, and says where each version differs', () => {
    const { status, stderr } = check('v999.0.0');
    expect(status).toBe(1);
    for (const where of ['package.json version', 'Chart.yaml version', 'Chart.yaml appVersion']) {
      expect(stderr).toContain(`${where} is '${version}', the tag v999.0.0 says 999.0.0`);
    }
  });

  it('refuses a tag that is not v and a semantic version', () => {
    for (const tag of [version, 'v1.2', 'release-1.0.0']) expect(check(tag).status).toBe(2);
  });
});
