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
2. Check it: every member's sha256 is listed in manifest.json; restore.sh checks them.

3. Restore everything with the script (needs bash, psql, pg_restore, tar, sha256sum):

    PGHOST=... PGUSER=postgres PGPASSWORD=... ./restore.sh            # databases only
    ./restore.sh --files-root /                                       # databases and files in place
    ./restore.sh --help

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

export function restoreScript(k: KitInfo): string {
  return `#!/usr/bin/env bash
# Lifeboat bare-metal restore for backup ${k.id} (target "${k.target}").
# Run it from the directory where the bundle was unpacked. Connection settings come from the
# usual libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD) or --url.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: ./restore.sh [--url postgres://user@host:port/postgres] [--files-root DIR] [--no-databases]
                    [--globals] [--clean] [--skip-checksums]
  --url URL         server to restore into (a maintenance database such as postgres)
  --files-root DIR  also restore files, under DIR (use / to put them back in place)
  --no-databases    restore files only
  --globals         also restore roles from databases/globals.sql (existing roles are kept)
  --clean           drop and recreate objects in databases that already exist
  --skip-checksums  do not check members against manifest.json first
USAGE
}

URL=""; FILES_ROOT=""; DATABASES=1; GLOBALS=0; CLEAN=0; CHECK=1
while [ $# -gt 0 ]; do
  case "$1" in
    --url) URL="$2"; shift 2 ;;
    --files-root) FILES_ROOT="$2"; shift 2 ;;
    --no-databases) DATABASES=0; shift ;;
    --globals) GLOBALS=1; shift ;;
    --clean) CLEAN=1; shift ;;
    --skip-checksums) CHECK=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "restore.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")"
[ -f manifest.json ] || { echo "restore.sh: manifest.json not found; unpack the whole bundle first" >&2; exit 2; }

if [ "$CHECK" = 1 ]; then
  echo "Checking members against manifest.json..."
  grep -o '{"name":"[^"]*","size":[0-9]*,"sha256":"[0-9a-f]*"}' manifest.json \\
    | sed -E 's/.*"name":"([^"]*)".*"sha256":"([0-9a-f]*)".*/\\2  \\1/' > .lifeboat-sums
  sha256sum --quiet -c .lifeboat-sums || { echo "restore.sh: checksum mismatch: the bundle is damaged" >&2; rm -f .lifeboat-sums; exit 1; }
  rm -f .lifeboat-sums
  echo "All members match."
fi

conn() { if [ -n "$URL" ]; then echo "$URL"; else echo "dbname=\${PGDATABASE:-postgres}"; fi; }

if [ "$DATABASES" = 1 ]; then
  if [ "$GLOBALS" = 1 ] && [ -f databases/globals.sql ]; then
    echo "Restoring roles (existing roles are kept)..."
    psql -X -q -d "$(conn)" -f databases/globals.sql || echo "note: some roles already existed"
  fi
  for first in databases/*.dump databases/*.dump.part-0001; do
    [ -e "$first" ] || continue
    db=$(basename "$first"); db=\${db%.part-0001}; db=\${db%.dump}
    dump="databases/$db.dump"
    if [ ! -f "$dump" ]; then
      echo "Joining parts of $db..."
      cat "databases/$db.dump.part-"* > "$dump.joined"; dump="$dump.joined"
    fi
    exists=$(psql -X -At -d "$(conn)" -c "select 1 from pg_database where datname = '$db'")
    if [ "$exists" = 1 ]; then
      if [ "$CLEAN" != 1 ]; then
        echo "restore.sh: database $db already exists; pass --clean to replace its objects, or drop it first" >&2; exit 1
      fi
      echo "Restoring $db over the existing database..."
      pg_restore --clean --if-exists --no-owner --exit-on-error --jobs=2 -d "$(conn | sed -E "s#(dbname=)[^ ]*#\\1$db#; s#/[^/?]*(\\?|$)#/$db\\1#")" "$dump"
    else
      echo "Creating and restoring $db..."
      pg_restore --create --exit-on-error -d "$(conn)" "$dump"
    fi
    if [ "$dump" = "databases/$db.dump.joined" ]; then rm -f "$dump"; fi
  done
fi

if [ -n "$FILES_ROOT" ]; then
  for set in files/*/; do
    [ -d "$set" ] || continue
    echo "Restoring file set $(basename "$set") under $FILES_ROOT..."
    mkdir -p "$FILES_ROOT"
    cp -a "$set." "$FILES_ROOT/"
  done
fi
echo "Done."
`;
}
