import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { DIST_MAIN, ROOT } from './paths.js';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The environment for a child CLI: no NODE_OPTIONS from the test runner, never a cluster to talk to. */
export function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
  delete env['KUBERNETES_SERVICE_HOST'];
  delete env['KUBECONFIG'];
  // Tests run inside a Pod must not make the webhook write Events on that Pod.
  for (const name of ['POD_NAME', 'POD_NAMESPACE', 'POD_UID']) delete env[name];
  for (const name of Object.keys(env)) if (name.startsWith('SIDECAR_INJECTOR_')) delete env[name];
  return env;
}

/** Fails with a clear message when the CLI was not built (the tests run the built dist/main.js). */
export function assertBuilt(): void {
  if (!existsSync(DIST_MAIN)) {
    throw new Error(`${DIST_MAIN} does not exist: run \`npm run build\` before these tests (npm test does it)`);
  }
}

/** Runs `node dist/main.js ...args` to completion, feeding `input` to stdin. */
export function runCli(
  args: readonly string[],
  options: { input?: string; cwd?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DIST_MAIN, ...args], {
      cwd: options.cwd ?? ROOT,
      env: childEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      const said = Buffer.concat(stderr).toString('utf8');
      reject(new Error(`sidecar-injector ${args.join(' ')} did not finish within ${options.timeoutMs ?? 20_000} ms; stderr so far:\n${said}`));
    }, options.timeoutMs ?? 20_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}
