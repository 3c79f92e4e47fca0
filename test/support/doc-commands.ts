// The shell commands that README.md and docs/*.md show, and the runner that
// executes each one (test/integration/doc-commands.test.ts), so a command a
// newcomer copies is known to work. The convention is in
// docs/development.md#commands-in-the-documentation; test/unit/doc-commands.test.ts
// checks that every shown command is run here, run by .ci/run, or marked
// illustrative.
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { symlink } from 'node:fs/promises';
import { get as httpsGet } from 'node:https';
import { join, relative } from 'node:path';
import { expect } from '@jest/globals';
import { childEnv } from './cli.js';
import { freePort } from './http.js';
import { ROOT } from './paths.js';
import type { TempDirs } from './temp.js';
import { waitFor } from './wait.js';

export const SHELL_LANGUAGES: ReadonlySet<string> = new Set(['sh', 'bash', 'shell', 'zsh', 'console']);

export interface DocCommand {
  /** The command as shown, continuation lines joined and a trailing `# comment` removed. */
  text: string;
  /** In a `console` block: the lines shown after the command, up to the next command or blank line. */
  output: string;
  /** `README.md:36` */
  where: string;
}

export interface ShellBlock {
  where: string;
  /** `illustrative` when the block is preceded by `<!-- illustrative: REASON -->`. */
  illustrative?: { reason: string };
  commands: DocCommand[];
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/;
const ILLUSTRATIVE = /^<!--\s*illustrative:(.*?)-->$/;

function commandsOfScript(lines: readonly string[], where: (index: number) => string): DocCommand[] {
  const commands: DocCommand[] = [];
  let pending: { text: string; start: number } | undefined;
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (pending === undefined && (line === '' || line.startsWith('#'))) return;
    const continues = line.endsWith('\\');
    const part = continues ? line.slice(0, -1).trim() : line.replace(/\s+#.*$/, '');
    pending = pending === undefined ? { text: part, start: index } : { text: `${pending.text} ${part}`, start: pending.start };
    if (!continues) {
      commands.push({ text: pending.text, output: '', where: where(pending.start) });
      pending = undefined;
    }
  });
  return commands;
}

function commandsOfConsole(lines: readonly string[], where: (index: number) => string): DocCommand[] {
  const commands: DocCommand[] = [];
  let current: { command: DocCommand; output: string[]; ended: boolean } | undefined;
  const finish = (): void => {
    if (current !== undefined) commands.push({ ...current.command, output: current.output.join('\n') });
  };
  lines.forEach((line, index) => {
    if (line.startsWith('$ ')) {
      finish();
      current = { command: { text: line.slice(2).replace(/\s+#.*$/, '').trim(), output: '', where: where(index) }, output: [], ended: false };
    } else if (current !== undefined && !current.ended) {
      if (line.trim() === '') current.ended = true;
      else current.output.push(line);
    }
  });
  finish();
  return commands;
}

/**
 * The shell blocks of one Markdown page: fenced blocks tagged sh, bash,
 * shell, zsh or console, and untagged ones with a line starting with `$ `.
 */
export function shellBlocks(markdown: string, page: string): ShellBlock[] {
  const lines = markdown.split('\n');
  const blocks: ShellBlock[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const open = FENCE.exec(lines[i] ?? '');
    if (open === null) continue;
    const [, indent = '', fence = '', language = ''] = open;
    let end = i + 1;
    while (end < lines.length && !(lines[end] ?? '').trim().startsWith(fence)) end += 1;
    const body = lines.slice(i + 1, end).map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line.trimStart()));
    const opening = i;
    i = end;
    const consoleStyle = language === 'console' || (language === '' && body.some((line) => line.startsWith('$ ')));
    if (!consoleStyle && !SHELL_LANGUAGES.has(language)) continue;
    const where = (index: number): string => `${page}:${opening + 2 + index}`;
    let before = opening - 1;
    while (before >= 0 && (lines[before] ?? '').trim() === '') before -= 1;
    const marker = ILLUSTRATIVE.exec((lines[before] ?? '').trim());
    blocks.push({
      where: `${page}:${opening + 1}`,
      ...(marker ? { illustrative: { reason: (marker[1] ?? '').trim() } } : {}),
      commands: consoleStyle ? commandsOfConsole(body, where) : commandsOfScript(body, where),
    });
  }
  return blocks;
}

/** README.md and every page of docs/. */
export function documentationPages(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => join(ROOT, 'docs', name));
  return [join(ROOT, 'README.md'), ...docs];
}

export function documentationShellBlocks(): ShellBlock[] {
  return documentationPages().flatMap((page) => shellBlocks(readFileSync(page, 'utf8'), relative(ROOT, page)));
}

/** The commands .ci/run runs, one per line. */
export function ciCommands(): string[] {
  return readFileSync(join(ROOT, '.ci', 'run'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** .ci/run runs the command as shown, or with only `--` options added (`npm ci --no-audit --no-fund`). */
export function runByCi(command: string, ci: readonly string[] = ciCommands()): boolean {
  return ci.some((line) => line === command || (line.startsWith(`${command} --`) && /^( --[\w-]+(=\S+)?)+$/.test(line.slice(command.length))));
}

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command line with bash in `cwd`, as a reader would paste it. */
function shell(command: string, cwd: string, timeoutMs = 60_000): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', command], { cwd, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      reject(new Error(`\`${command}\` did not finish within ${timeoutMs} ms; stderr so far:\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function httpsStatus(url: string, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsGet(url, { ca, agent: false, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 2000 ms')));
    req.on('error', reject);
  });
}

/**
 * A working copy for the commands: a temporary directory whose package.json,
 * dist/, templates/ and examples/ link to the repository's, so `certs/` and
 * other outputs land there instead of in the checkout, and `npm start` runs
 * the repository's start script.
 */
export class DocSandbox {
  private server: { pid: number; port: number; output: () => string; exited: Promise<void> } | undefined;
  private starting: Promise<number> | undefined;

  private constructor(
    readonly dir: string,
    private readonly temps: TempDirs,
  ) {}

  static async create(temps: TempDirs): Promise<DocSandbox> {
    const dir = await temps.make('doc-commands');
    await linkCheckout(dir);
    return new DocSandbox(dir, temps);
  }

  /** A second, empty working copy (for commands that write where the first one serves from). */
  async another(): Promise<string> {
    const dir = await this.temps.make('doc-commands');
    await linkCheckout(dir);
    return dir;
  }

  /**
   * `npm start` in the sandbox on a free port instead of 8443, with
   * `--ignore-scripts` so its `prestart` build is skipped (npm test's
   * `pretest` has just built dist/); resolves with the port once /readyz is 200.
   */
  startServer(): Promise<number> {
    this.starting ??= this.start();
    return this.starting;
  }

  private async start(): Promise<number> {
    const port = await freePort();
    // Its own process group, so stop() ends npm, the shell and node by the group's PID.
    const child = spawn('npm', ['start', '--ignore-scripts', '--', '--port', String(port)], {
      cwd: this.dir,
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    if (child.pid === undefined) throw new Error('npm start did not start');
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.server = { pid: child.pid, port, output: () => output, exited };
    const caFile = join(this.dir, 'certs', 'ca.crt');
    const ready = async (): Promise<true | undefined> => {
      if (!existsSync(caFile)) return undefined;
      return (await httpsStatus(`https://localhost:${port}/readyz`, readFileSync(caFile, 'utf8'))) === 200 ? true : undefined;
    };
    await waitFor(`npm start ready on port ${port}`, ready, { timeoutMs: 60_000 }).catch((error: Error) => {
      throw new Error(`${error.message}; its output:\n${output}`);
    });
    return port;
  }

  serverOutput(): string {
    return this.server?.output() ?? '';
  }

  /** SIGKILL to the server's process group, by the PID npm start was given. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    try {
      process.kill(-server.pid, 'SIGKILL');
    } catch {
      return; // already gone
    }
    await server.exited;
  }
}

async function linkCheckout(dir: string): Promise<void> {
  for (const name of ['package.json', 'dist', 'templates', 'examples']) await symlink(join(ROOT, name), join(dir, name));
}

export type Runner = (command: DocCommand, sandbox: DocSandbox) => Promise<void>;

/** Runs the command in the sandbox and expects exactly the output the page shows. */
const printsWhatIsShown: Runner = async (command, sandbox) => {
  const result = await shell(command.text, sandbox.dir);
  expect(result.stderr).toBe('');
  expect(result.stdout.trimEnd()).toBe(command.output);
};

/** Each command the docs show and a test runs, by its exact text. */
export const RUNNERS: Readonly<Record<string, Runner>> = {
  'npm start': async (_command, sandbox) => {
    await sandbox.startServer();
    expect(existsSync(join(sandbox.dir, 'certs', 'tls.crt'))).toBe(true);
    expect(sandbox.serverOutput()).toContain('sidecar-injector is serving on https://localhost:');
  },

  // The port npm start listens on instead of 8443.
  './examples/try-mutate.sh https://localhost:8443/mutate examples/admission-review.json': async (command, sandbox) => {
    const port = await sandbox.startServer();
    const result = await shell(command.text.replace(':8443/', `:${port}/`), sandbox.dir);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const review = JSON.parse(result.stdout) as { response: { allowed: boolean; patch: { path: string; value: unknown }[] } };
    expect(review.response.allowed).toBe(true);
    expect(JSON.stringify(review.response.patch)).toContain('"name":"log-collector"');
  },

  // The port npm start listens on instead of 8443.
  'curl --cacert certs/ca.crt https://localhost:8443/readyz': async (command, sandbox) => {
    const port = await sandbox.startServer();
    const result = await shell(command.text.replace(':8443/', `:${port}/`), sandbox.dir);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: 'ready', problems: [] });
  },

  'node dist/main.js inject -f examples/deployment.yaml': async (command, sandbox) => {
    const result = await shell(command.text, sandbox.dir);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('name: log-collector');
    expect(result.stdout).toContain('name: http-prober');
  },

  // In a second sandbox, so --force does not replace the certificates npm start serves.
  'node dist/main.js certs --out certs --hosts sidecar-injector.ns.svc,sidecar-injector.ns.svc.cluster.local --force': async (command, sandbox) => {
    const dir = await sandbox.another();
    const result = await shell(command.text, dir);
    expect(result.code).toBe(0);
    const serving = new X509Certificate(readFileSync(join(dir, 'certs', 'tls.crt')));
    expect(serving.subjectAltName).toContain('DNS:sidecar-injector.ns.svc');
    expect(serving.subjectAltName).toContain('DNS:sidecar-injector.ns.svc.cluster.local');
    expect(serving.verify(new X509Certificate(readFileSync(join(dir, 'certs', 'ca.crt'))).publicKey)).toBe(true);
  },

  'node dist/main.js explain -f examples/explain.yaml': printsWhatIsShown,
  'node dist/main.js explain -f examples/local-cluster/log-collector.yaml': printsWhatIsShown,
  'node dist/main.js explain -f examples/local-cluster/http-prober.yaml': printsWhatIsShown,
  'node dist/main.js explain -f examples/local-cluster/egress-logger.yaml': printsWhatIsShown,
};
