import { readFileSync } from 'node:fs';

/**
 * README.txt and restore.sh: the first members of every bundle, so that a person with only the
 * bundle file and standard tools can restore it without Lifeboat.
 */

export interface KitInfo {
  id: string;
  target: string;
  bundleName: string;
  algorithm: 'zstd' | 'gzip' | 'none';
  encrypted: boolean;
  databases: string[];
  globals: boolean;
  fileSets: string[];
}

function openCommand(k: KitInfo): string {
  const decrypt = k.encrypted ? `age -d -i key.txt ${k.bundleName} | ` : '';
  const input = k.encrypted ? '' : ` < ${k.bundleName}`;
  const unzip = { zstd: 'zstd -d', gzip: 'gzip -d', none: 'cat' }[k.algorithm];
  return `${decrypt}${unzip}${input} | tar -x`;
}

export function readmeText(k: KitInfo): string {
  const dbLines = k.databases.length
    ? k.databases.map((db) => `    databases/${db}.dump   (or databases/${db}.dump.part-0001, -0002, ...: join them with cat)`).join('\n')
    : '    (no databases in this bundle)';
  return `Lifeboat backup ${k.id} of target "${k.target}"
${'='.repeat(40)}

This file is a complete backup. You can restore it without Lifeboat.

1. Unpack it (in an empty directory):

    mkdir restore && cd restore
    ${openCommand(k)}
${k.encrypted ? '\n   key.txt is the age identity (AGE-SECRET-KEY-1...) of a recipient the bundle was\n   encrypted to; for a passphrase, run age -d without -i and type it when asked.\n' : ''}
2. See what it holds, and check it against the machine (changes nothing):

    ./restore.sh --list
    ./restore.sh --check --url postgres://postgres@HOST:5432/postgres --files-root /

3. Restore everything with the script (needs bash, coreutils, GNU tar, psql and pg_restore at
   least as new as the pg_dump that made the bundle):

    ./restore.sh --url postgres://postgres@HOST:5432/postgres --globals              # roles, databases
    ./restore.sh --url ... --globals --files-root /                                  # and files in place
    ./restore.sh --help

   It checks first (every member's sha256, the tools, the server, disk, the file paths) and
   changes nothing when a check fails (exit 2); it ends by comparing every table's row count and
   every file's sha256 with the manifest (exit 0 whole, 1 partial: run it again to finish).

4. Or by hand:
${k.globals ? '\n    psql -f databases/globals.sql postgres          # roles; errors for roles that exist are harmless\n' : ''}
    For each database:
${dbLines}
    cat databases/DB.dump.part-* > DB.dump               # only when the dump is in parts
    createdb DB && pg_restore --dbname=DB --jobs=2 databases/DB.dump

    One table:  pg_restore --dbname=DB --table=TABLE databases/DB.dump
    Files: files/<set>/<original path>; copy them back with
    cp -a files/SET/. /       (or to another directory first, to look)

manifest.json describes everything: tables with row counts, files with sizes and
checksums, and the sha256 of every member.
`;
}

/** restore.sh's text, kept in its own file so that it can be read and shellchecked as it is. */
const SCRIPT = readFileSync(new URL('./restore-kit/restore.sh', import.meta.url), 'utf8');

/** restore.sh for one bundle: the script is the same for every bundle but for its first comment. */
export function restoreScript(k: KitInfo): string {
  return SCRIPT.replace('@BACKUP@', `${k.id} (target "${k.target}")`);
}
