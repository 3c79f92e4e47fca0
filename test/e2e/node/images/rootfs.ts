// An image's filesystem as a list of entries (pure, so tests can read what an
// image holds), written to a staging directory and packed with GNU tar into a
// reproducible layer: numeric owner 0:0, mtime 0, sorted, no ACLs or xattrs.
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** Paths are absolute inside the image (`/etc/passwd`). Owner is always 0:0. */
export type RootfsEntry =
  | { kind: 'dir'; path: string; mode: number }
  | { kind: 'file'; path: string; mode: number; content: string }
  | { kind: 'copy'; path: string; mode: number; from: string }
  | { kind: 'symlink'; path: string; target: string };

export interface Account {
  name: string;
  id: number;
  home: string;
  shell: string;
}

export const ROOT: Account = { name: 'root', id: 0, home: '/root', shell: '/bin/sh' };

/** `/etc/passwd`: one user per account, each with the group of the same id. */
export function passwdFile(accounts: readonly Account[]): string {
  return accounts.map((a) => `${a.name}:x:${a.id}:${a.id}:${a.name}:${a.home}:${a.shell}\n`).join('');
}

/** `/etc/group`: one group per account, same name and id. */
export function groupFile(accounts: readonly Account[]): string {
  return accounts.map((a) => `${a.name}:x:${a.id}:\n`).join('');
}

/** The entries for /etc/passwd and /etc/group (and /etc itself). */
export function accountEntries(accounts: readonly Account[]): RootfsEntry[] {
  return [
    { kind: 'dir', path: '/etc', mode: 0o755 },
    { kind: 'file', path: '/etc/passwd', mode: 0o644, content: passwdFile(accounts) },
    { kind: 'file', path: '/etc/group', mode: 0o644, content: groupFile(accounts) },
  ];
}

/** Materializes entries under root (which must be empty); parents are created 0755. */
export function writeRootfs(root: string, entries: readonly RootfsEntry[]): void {
  for (const e of entries) {
    if (!e.path.startsWith('/') || e.path.split('/').includes('..')) throw new Error(`bad image path ${e.path}`);
    const target = join(root, e.path);
    mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
    switch (e.kind) {
      case 'dir':
        mkdirSync(target, { recursive: true });
        break;
      case 'file':
        writeFileSync(target, e.content);
        break;
      case 'copy':
        copyFileSync(e.from, target);
        break;
      case 'symlink':
        symlinkSync(e.target, target);
        continue; // a symlink has no mode of its own
    }
    // Explicitly, since mkdir and writeFile apply the umask (and /tmp needs the sticky bit).
    chmodSync(target, e.mode);
  }
}

// Flags that make GNU tar's output depend only on the files' names, types,
// modes and contents.
const REPRODUCIBLE = [
  '--format=gnu',
  '--sort=name',
  '--numeric-owner',
  '--owner=0',
  '--group=0',
  '--mtime=@0',
  '--no-acls',
  '--no-xattrs',
  '--no-selinux',
];

/** Packs the contents of dir (not dir itself: entries are `bin/sh`, not `./bin/sh`) into file. */
export async function tarDirectory(dir: string, file: string): Promise<void> {
  const members = readdirSync(dir).sort();
  if (members.length === 0) throw new Error(`nothing to pack in ${dir}`);
  await execFileP('tar', ['--create', `--file=${file}`, `--directory=${dir}`, ...REPRODUCIBLE, '--', ...members], {
    maxBuffer: 16 * 1024 * 1024,
  });
}

/** `tar --version`'s first line: a different tar may pack differently, so it is a build input. */
export async function tarVersion(): Promise<string> {
  const { stdout } = await execFileP('tar', ['--version']);
  return stdout.split('\n')[0] ?? '';
}
