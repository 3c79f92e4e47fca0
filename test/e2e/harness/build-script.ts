// Runs one of the harness's build scripts (test/e2e/cluster/build.sh,
// test/e2e/node/build.sh): progress lines on stderr are passed to `log`, and
// the last stdout line is the directory the script built into.
import { spawn } from 'node:child_process';

export function runBuildScript(script: string, log: (line: string) => void, args: readonly string[] = []): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    const stderrLines: string[] = [];
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    let partial = '';
    child.stderr.on('data', (d: Buffer) => {
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        stderrLines.push(line);
        log(line.replace(/^\[[^\]]* build\] /, 'build: '));
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (partial) stderrLines.push(partial);
      const dir = stdout.trim().split('\n').pop() ?? '';
      if (code === 0 && dir) resolve(dir);
      else reject(new Error(`${[script, ...args].join(' ')} failed (exit ${code}):\n${stderrLines.slice(-40).join('\n')}`));
    });
  });
}
