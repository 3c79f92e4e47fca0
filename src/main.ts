#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { UsageError } from './cli/args.js';
import { processIo, type CliIo } from './cli/io.js';

type Command = (argv: readonly string[], io: CliIo) => Promise<number>;

// Loaded on demand: each command pulls in only what it uses (node-forge, the
// Kubernetes client and express are large), which keeps the CLI quick and the
// server's heap small.
const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./cli/serve.js')).runServe,
  inject: async () => (await import('./cli/inject.js')).runInject,
  explain: async () => (await import('./cli/explain.js')).runExplain,
  certs: async () => (await import('./cli/certs.js')).runCerts,
  validate: async () => (await import('./cli/validate.js')).runValidate,
  policy: async () => (await import('./cli/policy.js')).runPolicy,
};

const HELP = `Usage: sidecar-injector <command> [options]

Commands:
  serve                 run the admission webhook (HTTPS)
  inject -f FILE|-      print manifests with the sidecars injected, as the webhook would
  explain -f FILE|-     say per pod template what would be injected, and why not
  certs                 generate a CA and a serving certificate
  validate DIR          check template files
  policy [FILE...]      print MutatingAdmissionPolicies that inject without the webhook
  version               print the version

Run 'sidecar-injector <command> --help' for the options of a command.
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: readonly string[]): Promise<number> {
  const io = processIo();
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    io.stdout(HELP);
    return command === undefined ? 2 : 0;
  }
  if (command === 'version' || command === '--version') {
    io.stdout(`${version()}\n`);
    return 0;
  }
  const load = COMMANDS[command];
  if (load === undefined) {
    io.stderr(`unknown command "${command}"\n\n${HELP}`);
    return 2;
  }
  try {
    const run = await load();
    return await run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`${command}: ${error.message}\n`);
      return 2;
    }
    io.stderr(`${command}: ${(error as Error).stack ?? String(error)}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exitCode = 1;
  },
);
