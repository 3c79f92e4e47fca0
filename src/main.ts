#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { UsageError } from './cli/args.js';
import { runCerts } from './cli/certs.js';
import { runInject } from './cli/inject.js';
import { processIo, type CliIo } from './cli/io.js';
import { runServe } from './cli/serve.js';
import { runValidate } from './cli/validate.js';

const COMMANDS: Record<string, (argv: readonly string[], io: CliIo) => Promise<number>> = {
  serve: runServe,
  inject: runInject,
  certs: runCerts,
  validate: runValidate,
};

const HELP = `Usage: sidecar-injector <command> [options]

Commands:
  serve                 run the admission webhook (HTTPS)
  inject -f FILE|-      print manifests with the sidecars injected, as the webhook would
  certs                 generate a CA and a serving certificate
  validate DIR          check template files
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
  const run = COMMANDS[command];
  if (run === undefined) {
    io.stderr(`unknown command "${command}"\n\n${HELP}`);
    return 2;
  }
  try {
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
