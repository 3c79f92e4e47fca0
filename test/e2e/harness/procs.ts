// Process and port helpers for the e2e control plane: each component runs in
// its own process group (so a group kill also takes any children), logs to a
// file, and is killed by PID only.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';

export interface ManagedProcess {
  name: string;
  pid: number;
  logPath: string;
  child: ChildProcess;
  /** null while running; set once the process has exited. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
  exited: Promise<void>;
}

export function spawnLogged(
  name: string,
  bin: string,
  args: string[],
  logPath: string,
  env: NodeJS.ProcessEnv = process.env,
): ManagedProcess {
  const fd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(bin, args, {
      // New process group: we kill the group, and a Ctrl-C in the terminal
      // reaches only us, so our handler decides the shutdown order.
      detached: true,
      stdio: ['ignore', fd, fd],
      env,
    });
  } finally {
    closeSync(fd); // the child has its own copy
  }
  if (child.pid === undefined) throw new Error(`failed to spawn ${name} (${bin})`);
  // Don't let running components keep the test process alive; the process
  // 'exit' hook in control-plane.ts kills whatever is left.
  child.unref();
  const proc: ManagedProcess = {
    name,
    pid: child.pid,
    logPath,
    child,
    exit: null,
    exited: new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        proc.exit = { code, signal };
        resolve();
      });
    }),
  };
  // 'error' after a successful spawn is rare (e.g. kill failing); never crash on it.
  child.on('error', () => {});
  return proc;
}

/** Sends a signal to the process group led by proc; false if it is already gone. */
export function signalGroup(proc: ManagedProcess, signal: NodeJS.Signals): boolean {
  if (proc.exit) return false;
  try {
    process.kill(-proc.pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, wait up to graceMs, then SIGKILL the group and wait for the exit. */
export async function terminate(proc: ManagedProcess, graceMs: number): Promise<'graceful' | 'killed' | 'gone'> {
  if (!signalGroup(proc, 'SIGTERM')) return 'gone';
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), graceMs);
  });
  const graceful = !(await Promise.race([proc.exited.then(() => false), timedOut]));
  clearTimeout(timer);
  if (graceful) return 'graceful';
  signalGroup(proc, 'SIGKILL');
  await proc.exited;
  return 'killed';
}

// Bash, so it is tiny and independent of the Node process it watches.
// $1 parent pid, $2 file of component pids (one per line, start order),
// $3 directory to remove afterwards (or empty).
const WATCHDOG = `
while kill -0 "$1" 2>/dev/null; do sleep 1; done
# One at a time, newest first (kcm, apiserver, etcd): etcd only exits
# quickly once the apiserver has closed its watches.
for pid in $(tac "$2" 2>/dev/null | awk '{ print $2 }'); do
  kill -TERM -- "-$pid" 2>/dev/null || continue
  for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -KILL -- "-$pid" 2>/dev/null
done
[ -n "$3" ] && rm -rf -- "$3"
exit 0
`;

/**
 * Starts a detached watchdog that, if parentPid dies without stopping the
 * components (SIGKILL, OOM, or a runner like Jest whose sandboxed
 * process.on('exit') never fires), terminates every process group listed in
 * pidFile, newest first. Kill the returned pid's group once stopped normally.
 */
export function startWatchdog(parentPid: number, pidFile: string, removeDir: string | undefined): number {
  const child = spawn('bash', ['-c', WATCHDOG, 'control-plane-watchdog', String(parentPid), pidFile, removeDir ?? ''], {
    detached: true,
    stdio: 'ignore',
  });
  if (child.pid === undefined) throw new Error('failed to spawn the control-plane watchdog');
  child.on('error', () => {});
  child.unref();
  return child.pid;
}

/**
 * Like startWatchdog, for a component that needs more than killed processes
 * (the node: containers, mounts, devices, firewall rules): once parentPid is
 * gone, runs `bash script ...args`. Kill the returned pid's group once the
 * component was stopped normally.
 */
export function startTeardownWatchdog(parentPid: number, script: string, args: readonly string[], logPath: string): number {
  const body = 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; shift; exec bash "$@"';
  const fd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn('bash', ['-c', body, 'teardown-watchdog', String(parentPid), script, ...args], {
      detached: true,
      stdio: ['ignore', fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  if (child.pid === undefined) throw new Error('failed to spawn the teardown watchdog');
  child.on('error', () => {});
  child.unref();
  return child.pid;
}

export function describeExit(proc: ManagedProcess): string {
  if (!proc.exit) return `${proc.name} (pid ${proc.pid}) is running`;
  const how = proc.exit.signal ? `signal ${proc.exit.signal}` : `code ${proc.exit.code}`;
  return `${proc.name} (pid ${proc.pid}) exited with ${how}`;
}

export function tailFile(path: string, lines = 25): string {
  try {
    const all = readFileSync(path, 'utf8').trimEnd().split('\n');
    return all.slice(-lines).join('\n');
  } catch (err) {
    return `(could not read ${path}: ${(err as Error).message})`;
  }
}

export function logTails(procs: ManagedProcess[], lines = 25): string {
  return procs
    .map((p) => `----- ${describeExit(p)}; last ${lines} lines of ${p.logPath} -----\n${tailFile(p.logPath, lines)}`)
    .join('\n');
}

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen({ host: '127.0.0.1', port, exclusive: true }, () => resolve(srv));
  });
}

function close(srv: Server): Promise<void> {
  return new Promise((resolve) => srv.close(() => resolve()));
}

/** n distinct free ports on 127.0.0.1 (held open together so they differ). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => listen(0)));
  const ports = servers.map((s) => {
    const addr = s.address();
    if (addr === null || typeof addr === 'string') throw new Error('unexpected listen address');
    return addr.port;
  });
  await Promise.all(servers.map(close));
  return ports;
}

export async function isPortFree(port: number): Promise<boolean> {
  try {
    await close(await listen(port));
    return true;
  } catch {
    return false;
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The processes of one harness component (the control plane, a node): each
 * started with its log in `dir` and its pid appended to `pidFile` (one
 * `name pid` line, read by the watchdogs), watched for an unexpected exit.
 */
export class Components {
  readonly procs: ManagedProcess[] = [];
  /** Resolves (with a message and log tails) if a process exits before stopping() was called. */
  readonly died: Promise<string>;
  private resolveDied: (message: string) => void = () => {};
  private stopped = false;
  private readonly started = Date.now();

  constructor(
    private readonly options: { dir: string; pidFile: string; log: (line: string) => void; startTimeoutMs: number },
  ) {
    this.died = new Promise<string>((resolve) => (this.resolveDied = resolve));
  }

  start(name: string, bin: string, args: string[], env: NodeJS.ProcessEnv = process.env): ManagedProcess {
    const proc = spawnLogged(name, bin, args, join(this.options.dir, `${name}.log`), env);
    this.procs.push(proc);
    appendFileSync(this.options.pidFile, `${name} ${proc.pid}\n`);
    void proc.exited.then(() => {
      if (!this.stopped) this.resolveDied(`${describeExit(proc)} unexpectedly\n${logTails(this.procs)}`);
    });
    this.options.log(`started ${name} (pid ${proc.pid}), log: ${proc.logPath}`);
    return proc;
  }

  /** From now on an exit is expected. */
  stopping(): void {
    this.stopped = true;
  }

  get(name: string): ManagedProcess | undefined {
    return this.procs.find((p) => p.name === name);
  }

  /**
   * Polls check() until it returns true, within the start budget; fails fast
   * if a process exits, and always includes the log tails in the error.
   */
  async waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
    const deadline = this.started + this.options.startTimeoutMs;
    let lastError = '';
    for (;;) {
      const dead = this.procs.find((p) => p.exit);
      if (dead) throw new Error(`${describeExit(dead)} while waiting for ${what}\n${logTails(this.procs)}`);
      try {
        if (await check()) {
          this.options.log(`${what}: ok at +${((Date.now() - this.started) / 1000).toFixed(1)}s`);
          return;
        }
      } catch (err) {
        lastError = (err as Error).message;
      }
      if (Date.now() > deadline) {
        const total = Math.round((Date.now() - this.started) / 1000);
        throw new Error(
          `timed out after ${total}s waiting for ${what}` +
            (lastError ? ` (last error: ${lastError})` : '') +
            `\n${logTails(this.procs)}`,
        );
      }
      await sleep(250);
    }
  }
}
