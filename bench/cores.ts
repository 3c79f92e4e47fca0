/**
 * Keeping a benchmark's server and its load generator on separate cores, so
 * a server never shares its core with the load that measures it (on this
 * project's 2-core machine that took the per-round spread of the
 * side-by-side ratio from 0.57-0.68 to 0.64-0.69). BENCH_PIN=0 lets the
 * kernel place them.
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

export interface Cores {
  /** Every server under measurement runs here, one at a time. */
  serverCpu: number;
  /** The benchmark's own process (the load generator) runs here. */
  loadCpu: number;
}

/** The cores to use, or undefined when they cannot be kept apart (BENCH_PIN=0, one core, no taskset). */
export function benchCores(): Cores | undefined {
  if (process.env['BENCH_PIN'] === '0' || availableParallelism() < 2) return undefined;
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  return { serverCpu: availableParallelism() - 1, loadCpu: 0 };
}

/** The command and arguments that run `node args` on `cpu`: taskset execs node, so the child's pid is node's. */
export function pinnedNode(cpu: number | undefined, args: readonly string[]): [string, string[]] {
  return cpu === undefined ? [process.execPath, [...args]] : ['taskset', ['-c', String(cpu), process.execPath, ...args]];
}

/** Moves every thread of this process (libuv's and V8's too) onto `cpu`. */
export function pinThisProcess(cpu: number): void {
  execFileSync('taskset', ['-a', '-cp', String(cpu), String(process.pid)], { stdio: 'ignore' });
}

/** One line for a benchmark's output: where the servers and the load ran. */
export function coresLine(cores: Cores | undefined): string {
  return cores === undefined
    ? 'cores: not pinned (BENCH_PIN=0, one core, or no taskset): servers and load generator share the cores as the kernel places them'
    : `cores: each server on CPU ${cores.serverCpu} (one at a time under load), the load generator on CPU ${cores.loadCpu} (BENCH_PIN=0 to let the kernel place them)`;
}
