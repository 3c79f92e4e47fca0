import { generateCertificates } from '../certs/generate.js';
import { certificatesExist, writeCertificates } from '../certs/files.js';
import { parseCommandArgs } from './args.js';
import type { CliIo } from './io.js';

const HELP = `Usage: sidecar-injector certs [options]

Generates a CA and a serving certificate signed by it (RSA 2048, SHA-256)
into DIR as ca.crt, ca.key, tls.crt, tls.key.

Options:
  --out DIR         output directory (default: certs)
  --hosts LIST      comma-separated DNS names / IPs for the SANs; the first is
                    the CN (default: localhost,127.0.0.1). In a cluster:
                    sidecar-injector.<ns>.svc,sidecar-injector.<ns>.svc.cluster.local
  --days N          serving certificate lifetime (default: 365)
  --ca-days N       CA lifetime (default: 3650)
  --force           overwrite existing files
`;

function positiveInteger(value: unknown, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive whole number, got ${String(value)}`);
  return n;
}

export async function runCerts(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    out: { type: 'string', default: 'certs' },
    hosts: { type: 'string', default: 'localhost,127.0.0.1' },
    days: { type: 'string', default: '365' },
    'ca-days': { type: 'string', default: '3650' },
    force: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values['help']) {
    io.stdout(HELP);
    return 0;
  }
  const out = String(values['out']);
  const hosts = String(values['hosts']).split(',').map((h) => h.trim()).filter(Boolean);
  if (hosts.length === 0) return io.fail('certs: --hosts needs at least one name');
  let days: number;
  let caDays: number;
  try {
    days = positiveInteger(values['days'], '--days');
    caDays = positiveInteger(values['ca-days'], '--ca-days');
  } catch (error) {
    return io.fail(`certs: ${(error as Error).message}`);
  }
  if (!values['force'] && (await certificatesExist(out))) {
    return io.fail(`certs: ${out} already holds tls.crt/tls.key; pass --force to replace them`);
  }
  await writeCertificates(out, generateCertificates({ hosts, validityDays: days, caValidityDays: caDays }));
  io.stdout(`wrote ${out}/ca.crt, ca.key, tls.crt, tls.key for ${hosts.join(', ')} (valid ${days} days)\n`);
  return 0;
}
