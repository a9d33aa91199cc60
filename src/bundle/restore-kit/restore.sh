#!/usr/bin/env bash
# Lifeboat bare-metal restore for backup @BACKUP@.
#
# Run it from the directory where the bundle was unpacked, on any machine with bash, coreutils,
# GNU tar and the PostgreSQL client tools (psql, pg_restore): no Lifeboat, no Node. What the
# bundle holds comes from metadata/restore-index.tsv (see README, "Bundle format"), which
# manifest.json vouches for by its sha256.
#
# Every run checks first and changes nothing when a check fails. Exit status: 0 the restore is
# whole (every table's row count and every file's sha256 match the manifest), 1 it is partial
# (something failed or does not match; a re-run picks up where it stopped), 2 refused (bad
# usage or a failed check: nothing was changed).
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: ./restore.sh [--check | --list] [options]
  --check             only run the checks and print the plan; change nothing
  --list              show what the bundle holds: databases, tables and rows, file sets
  --url URL           server to restore into, e.g. postgres://postgres@host:5432/postgres
                      (default: the libpq variables PGHOST, PGPORT, PGUSER, PGPASSWORD)
  --only DB           restore this database only (repeatable)
  --no-databases      restore no database
  --globals           restore roles and tablespaces first (those that exist are kept as they are)
  --clean             replace databases that exist on the server (dropped and created again;
                      postgres is cleaned and restored into, never dropped)
  --jobs N            restore each database with N parallel jobs (joins a dump's parts into a
                      file first, in the work directory)
  --no-owner          do not set owners or privileges (objects belong to the connecting user)
  --files-root DIR    restore the file sets under DIR (/ puts every file back at its place)
  --only-files SET    restore this file set only (repeatable; needs --files-root)
  --work-dir DIR      where joined dumps and the state of an interrupted run go (default: here)
With --only and no --only-files, no files are restored; with --only-files and no --only, no
database is. Exit status: 0 whole, 1 partial (re-run to finish), 2 refused (nothing changed).
USAGE
}

# ---------------------------------------------------------------------------------------------
# Options
# ---------------------------------------------------------------------------------------------
MODE=restore URL='' FILES_ROOT='' WORK='' GLOBALS=0 CLEAN=0 JOBS=1 NO_OWNER=0 NO_DATABASES=0
ONLY=() ONLY_FILES=()
refuse_usage() { printf 'restore.sh: %s\n' "$1" >&2; usage >&2; exit 2; }
while (($#)); do
  case $1 in
    --check) MODE=check ;;
    --list) MODE=list ;;
    --globals) GLOBALS=1 ;;
    --clean) CLEAN=1 ;;
    --no-owner) NO_OWNER=1 ;;
    --no-databases) NO_DATABASES=1 ;;
    --url | --files-root | --only | --only-files | --jobs | --work-dir)
      (($# >= 2)) || refuse_usage "$1 needs a value"
      case $1 in
        --url) URL=$2 ;;
        --files-root) FILES_ROOT=$2 ;;
        --only) ONLY+=("$2") ;;
        --only-files) ONLY_FILES+=("$2") ;;
        --jobs) JOBS=$2 ;;
        --work-dir) WORK=$2 ;;
      esac
      shift ;;
    -h | --help) usage; exit 0 ;;
    *) refuse_usage "unknown option $1" ;;
  esac
  shift
done
[[ $JOBS =~ ^[1-9][0-9]{0,2}$ ]] || refuse_usage "--jobs takes a number from 1 to 999, not $JOBS"
((${#ONLY_FILES[@]} == 0)) || [[ -n $FILES_ROOT ]] || refuse_usage "--only-files needs --files-root DIR"

cd "$(dirname -- "${BASH_SOURCE[0]}")"
BUNDLE_DIR=$PWD
[[ -n $WORK ]] || WORK=$BUNDLE_DIR
[[ -f manifest.json ]] || { printf 'restore.sh: manifest.json not found in %s: unpack the whole bundle here first\n' "$BUNDLE_DIR" >&2; exit 2; }
readonly INDEX=metadata/restore-index.tsv
STATE=$WORK/.restore-state
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lifeboat-restore.XXXXXX")
cleanup() { rm -rf -- "$TMP"; [[ -z ${JOINED:-} ]] || rm -f -- "$JOINED"; }
trap cleanup EXIT
JOINED=''

say() { printf '%s\n' "$*"; }
die() { printf 'restore.sh: %s\n' "$*" >&2; exit 2; }

# A field of the index: "-" is empty; %XX escapes stand for "%", "\", tabs, newlines and other
# control characters.
unesc() {
  local s=$2
  if [[ $s == - ]]; then s=''; else s=${s//%/\\x}; fi
  printf -v "$1" '%b' "$s"
}

# 1536 -> "1.5 KiB": integer arithmetic only.
human() {
  local n=$1 unit=B u
  local -a units=(KiB MiB GiB TiB)
  local tenths=$((n * 10))
  for u in "${units[@]}"; do
    ((tenths >= 10240)) || break
    tenths=$((tenths / 1024)) unit=$u
  done
  if [[ $unit == B ]]; then printf '%d B' "$n"; else printf '%d.%d %s' $((tenths / 10)) $((tenths % 10)) "$unit"; fi
}

# ---------------------------------------------------------------------------------------------
# The index
# ---------------------------------------------------------------------------------------------
B_ID='' B_TARGET='' B_MADE='' B_SERVER='' B_PGDUMP='' B_GLOBALS=0
M_NAME=() M_SIZE=() M_SHA=()
DB_NAME=() DB_TABLES=() DB_ROWS=() DB_SIZE=() DB_PARTS=()
P_DB=() P_MEMBER=()
T_DB=() T_SCHEMA=() T_NAME=() T_ROWS=()
R_DB=() R_NAME=() R_KIND=()
S_NAME=() S_ENTRIES=() S_FILES=() S_BYTES=()
F_SET=() F_TYPE=() F_MODE=() F_UID=() F_GID=() F_SIZE=() F_MTIME=() F_SHA=() F_MEMBER=() F_PATH=() F_LINK=()

load_index() {
  local -a f
  local a b c d
  while IFS=$'\t' read -r -a f; do
    case ${f[0]:-} in
      bundle)
        unesc B_ID "${f[1]}"; unesc B_TARGET "${f[2]}"; B_MADE=${f[3]}
        unesc B_SERVER "${f[4]}"; unesc B_PGDUMP "${f[5]}"; B_GLOBALS=${f[6]} ;;
      member) unesc a "${f[1]}"; M_NAME+=("$a"); M_SIZE+=("${f[2]}"); M_SHA+=("${f[3]}") ;;
      database)
        unesc a "${f[1]}"; DB_NAME+=("$a"); DB_TABLES+=("${f[2]}"); DB_ROWS+=("${f[3]}")
        DB_SIZE+=("${f[4]}"); DB_PARTS+=("${f[6]}") ;;
      part) unesc a "${f[1]}"; unesc b "${f[2]}"; P_DB+=("$a"); P_MEMBER+=("$b") ;;
      table)
        unesc a "${f[1]}"; unesc b "${f[2]}"; unesc c "${f[3]}"
        T_DB+=("$a"); T_SCHEMA+=("$b"); T_NAME+=("$c"); T_ROWS+=("${f[4]}") ;;
      role) unesc a "${f[1]}"; unesc b "${f[2]}"; R_DB+=("$a"); R_NAME+=("$b"); R_KIND+=("${f[3]}") ;;
      fileset) S_NAME+=("${f[1]}"); S_ENTRIES+=("${f[2]}"); S_FILES+=("${f[3]}"); S_BYTES+=("${f[4]}") ;;
      file)
        F_SET+=("${f[1]}"); F_TYPE+=("${f[2]}"); F_MODE+=("${f[3]}"); F_UID+=("${f[4]}"); F_GID+=("${f[5]}")
        F_SIZE+=("${f[6]}"); F_MTIME+=("${f[7]}"); F_SHA+=("${f[8]}")
        unesc a "${f[9]}"; unesc b "${f[10]}"; unesc d "${f[11]}"
        F_MEMBER+=("$a"); F_PATH+=("$b"); F_LINK+=("$d") ;;
    esac
  done <"$INDEX"
}

no_index() {
  die "$1 needs $INDEX, which this bundle lacks: it was made by a Lifeboat older than the index. Its databases/ and files/ restore by hand (README.txt), or with the restore.sh of that Lifeboat version"
}

# ---------------------------------------------------------------------------------------------
# --list
# ---------------------------------------------------------------------------------------------
list_bundle() {
  [[ -f $INDEX ]] || no_index "--list"
  load_index
  local i
  say "Backup $B_ID of target \"$B_TARGET\", made $B_MADE"
  if [[ -n $B_PGDUMP ]]; then say "PostgreSQL $B_SERVER, dumped by pg_dump $B_PGDUMP"; fi
  if ((B_GLOBALS)); then say "Roles and tablespaces: databases/globals.sql (restored with --globals)"; fi
  say ''
  if ((${#DB_NAME[@]})); then
    printf '%-32s %8s %14s %12s %6s\n' DATABASE TABLES ROWS DUMP PARTS
    for i in "${!DB_NAME[@]}"; do
      printf '%-32s %8s %14s %12s %6s\n' "${DB_NAME[i]}" "${DB_TABLES[i]}" "${DB_ROWS[i]}" "$(human "${DB_SIZE[i]}")" "${DB_PARTS[i]}"
    done
  else
    say 'No databases.'
  fi
  say ''
  if ((${#S_NAME[@]})); then
    printf '%-32s %8s %8s %12s\n' 'FILE SET' ENTRIES FILES SIZE
    for i in "${!S_NAME[@]}"; do
      printf '%-32s %8s %8s %12s\n' "${S_NAME[i]}" "${S_ENTRIES[i]}" "${S_FILES[i]}" "$(human "${S_BYTES[i]}")"
    done
  else
    say 'No file sets.'
  fi
}

if [[ $MODE == list ]]; then
  list_bundle
  exit 0
fi

# ---------------------------------------------------------------------------------------------
# Checks: each adds a line; a failed one refuses the run before anything is changed.
# ---------------------------------------------------------------------------------------------
CHECK_LINES=() FAILED=0
pass() { CHECK_LINES+=("$(printf '  ok      %-9s %s' "$1" "$2")"); }
fail() { CHECK_LINES+=("$(printf '  FAILED  %-9s %s' "$1" "$2")"); FAILED=$((FAILED + 1)); }

# Writes "sha256  name" lines that sha256sum -c reads, escaping names as sha256sum does.
sum_line() {
  local sha=$1 name=$2
  if [[ $name == *\\* || $name == *$'\n'* ]]; then
    name=${name//\\/\\\\}; name=${name//$'\n'/\\n}
    printf '\\%s  %s\n' "$sha" "$name"
  else
    printf '%s  %s\n' "$sha" "$name"
  fi
}

# Checks a list of sha256sum lines with up to 4 sha256sum processes at once; prints the lines
# of the entries that fail and returns 1 when any does.
check_sums() {
  local list=$1 n=1 i chunk status=0 line
  n=$(nproc 2>/dev/null || echo 1)
  ((n <= 4)) || n=4
  local -a pids=()
  split -n "r/$n" -d -- "$list" "$list.chunk."
  for chunk in "$list".chunk.*; do
    # -c stops at nothing: every entry is reported.
    [[ -s $chunk ]] || continue
    (LC_ALL=C sha256sum --quiet -c -- "$chunk" >"$chunk.out" 2>&1) &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || status=1; done
  for chunk in "$list".chunk.*.out; do
    [[ -f $chunk ]] || continue
    while IFS= read -r line; do
      [[ $line == *'computed checksum did NOT match'* || $line == *'listed file could not be read'* ]] || printf '%s\n' "$line"
    done <"$chunk"
  done
  return "$status"
}

# The sha256 manifest.json gives a member, from its one-line entry (serializeManifest).
manifest_sha() {
  local want="\"name\":\"$1\"" line re='"sha256":"([0-9a-f]{64})"'
  while IFS= read -r line; do
    if [[ $line == *"$want"* && $line =~ $re ]]; then printf '%s' "${BASH_REMATCH[1]}"; return 0; fi
  done <manifest.json
  return 1
}

check_members() {
  local sums=$TMP/members.sha256 count=0 bytes=0 i listed=0 line want have
  if [[ -f $INDEX ]]; then
    want=$(manifest_sha "$INDEX") || { fail members "manifest.json does not list $INDEX"; return; }
    have=$(sha256sum <"$INDEX"); have=${have%% *}
    [[ $have == "$want" ]] || { fail members "$INDEX does not match its sha256 in manifest.json: the bundle is damaged"; return; }
    load_index
    for i in "${!M_NAME[@]}"; do
      sum_line "${M_SHA[i]}" "${M_NAME[i]}"
      bytes=$((bytes + M_SIZE[i]))
    done >"$sums"
    count=${#M_NAME[@]}
    while IFS= read -r line; do [[ $line != '    {"name":'* ]] || listed=$((listed + 1)); done <manifest.json
    # The index is the last member before manifest.json, so it lists every member but itself.
    if ((listed != count + 1)); then fail members "manifest.json lists $listed members but $INDEX $count (and itself): the bundle is damaged"; return; fi
  else
    # An older bundle: the members straight from manifest.json, one per line.
    local re='^    \{"name":"(([^"\\]|\\.)*)","size":([0-9]+),"sha256":"([0-9a-f]{64})"\}'
    while IFS= read -r line; do
      if [[ $line =~ $re ]]; then
        want=${BASH_REMATCH[1]//\\\"/\"}; want=${want//\\\\/\\}
        sum_line "${BASH_REMATCH[4]}" "$want"
        count=$((count + 1)) bytes=$((bytes + BASH_REMATCH[3]))
      fi
    done <manifest.json >"$sums"
  fi
  ((count > 0)) || { fail members "manifest.json lists no members: the bundle is damaged"; return; }
  local bad
  if bad=$(check_sums "$sums"); then
    pass members "All members match manifest.json: $count members, $(human "$bytes")"
  else
    local n=0
    while IFS= read -r line; do n=$((n + 1)); done <<<"$bad"
    fail members "$n member(s) do not match manifest.json (damaged or missing): the bundle is damaged; unpack it again from a good copy"
    CHECK_LINES+=("$(printf '%s\n' "$bad" | head -n 10 | while IFS= read -r line; do printf '            %s\n' "$line"; done)")
  fi
}

load_index_or_fail() {
  if [[ ! -f $INDEX ]]; then
    fail index "$INDEX is missing: this bundle was made by an older Lifeboat; restore its databases/ and files/ by hand (README.txt)"
    return 1
  fi
  ((${#M_NAME[@]})) || load_index
}

# What this run restores.
SEL_DB=() SEL_SETS=()
select_items() {
  local i name want found
  if ((NO_DATABASES == 0)) && { ((${#ONLY[@]})) || ((${#ONLY_FILES[@]} == 0)); }; then
    for want in "${ONLY[@]}"; do
      found=0
      for name in "${DB_NAME[@]}"; do [[ $name != "$want" ]] || found=1; done
      ((found)) || fail select "--only $want: the bundle has no such database (it has: ${DB_NAME[*]:-none})"
    done
    for i in "${!DB_NAME[@]}"; do
      if ((${#ONLY[@]} == 0)); then SEL_DB+=("$i"); continue; fi
      for want in "${ONLY[@]}"; do [[ ${DB_NAME[i]} != "$want" ]] || SEL_DB+=("$i"); done
    done
  fi
  if [[ -n $FILES_ROOT ]] && { ((${#ONLY_FILES[@]})) || ((${#ONLY[@]} == 0)); }; then
    for want in "${ONLY_FILES[@]}"; do
      found=0
      for name in "${S_NAME[@]}"; do [[ $name != "$want" ]] || found=1; done
      ((found)) || fail select "--only-files $want: the bundle has no such file set (it has: ${S_NAME[*]:-none})"
    done
    for i in "${!S_NAME[@]}"; do
      if ((${#ONLY_FILES[@]} == 0)); then SEL_SETS+=("${S_NAME[i]}"); continue; fi
      for want in "${ONLY_FILES[@]}"; do [[ ${S_NAME[i]} != "$want" ]] || SEL_SETS+=("${S_NAME[i]}"); done
    done
  fi
  if ((GLOBALS && !B_GLOBALS)); then fail select "--globals: the bundle holds no roles (its target did not set globals: true)"; fi
}

# The packages that bring PostgreSQL client tools of a major version.
packages_hint() {
  local v=$1
  printf 'install the PostgreSQL %s client tools (or newer): Debian/Ubuntu: apt-get install postgresql-client-%s (from apt.postgresql.org when the release lacks it); RHEL/Fedora: dnf install postgresql%s (from the PGDG repository, download.postgresql.org); Alpine: apk add postgresql%s-client' "$v" "$v" "$v" "$v"
}

# A directory of newer client tools this machine has but PATH does not put first.
other_tools_hint() {
  local need=$1 dir major
  for dir in /usr/lib/postgresql/*/bin /usr/pgsql-*/bin /usr/libexec/postgresql*; do
    [[ -x $dir/pg_restore ]] || continue
    major=$("$dir/pg_restore" --version 2>/dev/null) || continue
    [[ $major =~ ([0-9]+) ]] || continue
    if ((BASH_REMATCH[1] >= need)); then printf '; or put %s first on PATH (it holds pg_restore %s)' "$dir" "${BASH_REMATCH[1]}"; return; fi
  done
}

check_tools() {
  local t missing=()
  for t in tar sha256sum stat df split mktemp; do command -v "$t" >/dev/null || missing+=("$t"); done
  ((${#missing[@]} == 0)) || fail tools "missing: ${missing[*]} (coreutils and GNU tar)"
  # Files are copied with GNU tar's --null -T lists (BusyBox tar lacks them).
  if ((${#SEL_SETS[@]})) && command -v tar >/dev/null && [[ $(tar --version 2>&1) != *'GNU tar'* ]]; then
    fail tools "tar is not GNU tar, which restoring files needs: Debian/Ubuntu: apt-get install tar; RHEL/Fedora: dnf install tar; Alpine: apk add tar"
  fi
  ((${#SEL_DB[@]} || GLOBALS)) || return 0
  local need=0
  [[ $B_PGDUMP =~ ^([0-9]+) ]] && need=${BASH_REMATCH[1]}
  local out versions=() ok=1
  for t in psql pg_restore; do
    if ! command -v "$t" >/dev/null; then
      fail tools "$t is not installed (or not on PATH): $(packages_hint "$need")$(other_tools_hint "$need")"
      ok=0; continue
    fi
    out=$("$t" --version 2>&1) || true
    if [[ ! $out =~ \(PostgreSQL\)\ ([0-9]+)(\.[0-9]+)? ]]; then
      fail tools "$t --version says \"${out%%$'\n'*}\": not PostgreSQL's $t"; ok=0; continue
    fi
    versions+=("$t ${BASH_REMATCH[1]}${BASH_REMATCH[2]}")
    if ((BASH_REMATCH[1] < need)); then
      fail tools "$t ${BASH_REMATCH[1]}${BASH_REMATCH[2]} ($(command -v "$t")) is older than the dump's pg_dump $B_PGDUMP and cannot read it: $(packages_hint "$need")$(other_tools_hint "$need")"
      ok=0
    fi
  done
  local IFS=,
  ((ok == 0)) || pass tools "${versions[*]} (the dump's pg_dump: $B_PGDUMP)"
}

# libpq settings: the URL without its database (each command names its own in PGDATABASE, so no
# database name is ever quoted into a URL), or the PG* variables.
CONN=postgresql:// MAINT=${PGDATABASE:-postgres}
if [[ -n $URL ]]; then
  if [[ $URL =~ ^(postgres(ql)?://[^/?]*)(/([^?]*))?(\?.*)?$ ]]; then
    CONN=${BASH_REMATCH[1]}${BASH_REMATCH[5]}
    if [[ -n ${BASH_REMATCH[4]} ]]; then unesc MAINT "${BASH_REMATCH[4]}"; else MAINT=postgres; fi
  else
    refuse_usage "--url takes a postgres:// or postgresql:// URL"
  fi
fi
export PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-10}
# psql on database $1 with the rest of the arguments; -X: no ~/.psqlrc, -At: bare values.
sql() { local db=$1; shift; PGDATABASE=$db psql -X -q -At -v ON_ERROR_STOP=1 -d "$CONN" "$@"; }

declare -A EXISTS=() ROLES=()
SERVER_MAJOR=0 SERVER_KEY=''
check_server() {
  ((${#SEL_DB[@]} || GLOBALS)) || return 0
  command -v psql >/dev/null || return 0
  # One connection for everything the checks ask the server: each psql start counts (Debian's
  # psql is a Perl wrapper).
  local out err q=(
    -c "select 'server', current_setting('server_version_num')::int / 10000, current_setting('server_version'), current_user, r.rolsuper, r.rolcreatedb, r.rolcreaterole, coalesce(host(inet_server_addr()), 'local') || ':' || current_setting('port') from pg_roles r where r.rolname = current_user"
    -c "select 'database', oid, datname from pg_database"
    -c "select 'role', rolname from pg_roles"
    -c "select 'tablespace', spcname from pg_tablespace")
  # In postgres itself, whether it holds relations already (it is restored into, not created).
  [[ $MAINT != postgres ]] || q+=(-c "select 'relations', count(*) from pg_class c join pg_namespace s on s.oid = c.relnamespace where s.nspname not in ('pg_catalog', 'information_schema') and s.nspname !~ '^pg_(toast|temp)' and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')")
  if ! out=$(sql "$MAINT" -F $'\t' "${q[@]}" 2>"$TMP/err"); then
    err=$(<"$TMP/err")
    fail server "cannot connect to ${URL:-the server the PG* variables name} (database $MAINT): ${err//$'\n'/ }"
    return
  fi
  local kind a b ver='' user='' super='' createdb='' createrole=''
  while IFS=$'\t' read -r kind a b; do
    case $kind in
      server) IFS=$'\t' read -r SERVER_MAJOR ver user super createdb createrole SERVER_KEY <<<"$a"$'\t'"$b" ;;
      database) EXISTS[$b]=$a ;;
      role) ROLES[$a]=1 ;;
      tablespace) SPACES[$a]=1 ;;
      relations) POSTGRES_RELATIONS=$a ;;
    esac
  done <<<"$out"
  local role=''
  [[ $super == t ]] && role=' (superuser)'
  pass server "PostgreSQL $ver at $SERVER_KEY as $user$role"
  if [[ $super != t ]]; then
    ((${#SEL_DB[@]} == 0)) || [[ $createdb == t ]] || fail server "$user may not create databases: ALTER ROLE $user CREATEDB, or connect as a superuser"
    ((GLOBALS == 0)) || [[ $createrole == t ]] || fail server "$user may not create roles (--globals): ALTER ROLE $user CREATEROLE, or connect as a superuser"
  fi
}
declare -A SPACES=()
POSTGRES_RELATIONS=''

# The state of an earlier run that stopped part-way: databases it created (and which of them it
# finished), by server and oid, so that a re-run finishes them without --clean.
declare -A STARTED=() FINISHED=()
read_state() {
  [[ -f $STATE ]] || return 0
  local kind key db oid
  while IFS=$'\t' read -r kind key oid db; do
    [[ $key == "$B_ID@$SERVER_KEY" ]] || continue
    unesc db "$db"
    case $kind in
      started) STARTED[$db]=$oid ;;
      finished) FINISHED[$db]=$oid ;;
    esac
  done <"$STATE"
}
note_state() {
  local db=${3//%/%25}; db=${db//$'\t'/%09}
  printf '%s\t%s\t%s\t%s\n' "$1" "$B_ID@$SERVER_KEY" "$2" "$db" >>"$STATE"
}

# What happens to each selected database: create, clean (drop and create, or clean postgres),
# into (postgres, empty), redo (an earlier run's, unfinished), keep (an earlier run's, finished).
declare -A ACTION=()
check_databases() {
  ((${#SEL_DB[@]})) || return 0
  ((${#EXISTS[@]})) || return 0
  local i db oid n
  for i in "${SEL_DB[@]}"; do
    db=${DB_NAME[i]} oid=${EXISTS[$db]:-}
    if [[ -z $oid ]]; then
      ACTION[$db]=create
    elif [[ ${FINISHED[$db]:-} == "$oid" ]]; then
      ACTION[$db]=keep
    elif [[ ${STARTED[$db]:-} == "$oid" ]]; then
      ACTION[$db]=redo
    elif [[ $db == postgres ]]; then
      n=$POSTGRES_RELATIONS
      [[ -n $n ]] || n=$(sql postgres -c "select count(*) from pg_class c join pg_namespace s on s.oid = c.relnamespace where s.nspname not in ('pg_catalog', 'information_schema') and s.nspname !~ '^pg_(toast|temp)' and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')") || n=unknown
      if [[ $n == 0 ]]; then ACTION[$db]=into
      elif ((CLEAN)); then ACTION[$db]=clean
      else fail database "postgres holds $n relations already: pass --clean to drop what the dump holds and restore it again, or leave it out with --only"
      fi
    elif ((CLEAN)); then
      ACTION[$db]=clean
    else
      fail database "$db exists on the server: pass --clean to drop it and restore it again, or leave it out with --only"
    fi
  done
  # The roles the dumps set as owners or grant to must exist, unless they come with --globals.
  ((GLOBALS == 0 && NO_OWNER == 0)) || return 0
  local missing=() j seen=' '
  for j in "${!R_NAME[@]}"; do
    for i in "${SEL_DB[@]}"; do
      [[ ${R_DB[j]} == "${DB_NAME[i]}" && -z ${ROLES[${R_NAME[j]}]:-} && $seen != *" ${R_NAME[j]} "* ]] || continue
      missing+=("${R_NAME[j]}"); seen+="${R_NAME[j]} "
    done
  done
  ((${#missing[@]} == 0)) || fail roles "the dumps set owners or privileges for roles this server lacks: ${missing[*]}: pass --globals to restore the bundle's roles, or --no-owner"
}

# The work directory must take the state file, and the joined dumps when --jobs needs them.
free_kib() { local out; out=$(df -Pk -- "$1" | tail -n 1); out=${out#* }; read -r _ _ out _ <<<"$out"; printf '%s' "$out"; }
nearest() { local p=$1; while [[ ! -e $p ]]; do p=$(dirname -- "$p"); done; printf '%s' "$p"; }
check_disk() {
  if ((${#SEL_DB[@]})); then
    if [[ ! -d $WORK || ! -w $WORK ]]; then fail disk "$WORK is not a writable directory: pass --work-dir DIR"; return; fi
    local need=0 i
    if ((JOBS > 1)); then
      for i in "${SEL_DB[@]}"; do ((DB_PARTS[i] < 2)) || need=$((need + DB_SIZE[i])); done
    fi
    local have=$(($(free_kib "$WORK") * 1024))
    if ((need > 0 && need > have)); then
      fail disk "joining the dump parts for --jobs needs $(human "$need") in $WORK, which has $(human "$have") free: pass --work-dir DIR elsewhere, or leave out --jobs"
    elif ((need > 0)); then
      pass disk "$(human "$need") for joined dumps in $WORK ($(human "$have") free)"
    fi
  fi
  if ((${#SEL_SETS[@]})); then
    local bytes=0 i set at
    for i in "${!S_NAME[@]}"; do for set in "${SEL_SETS[@]}"; do [[ $set != "${S_NAME[i]}" ]] || bytes=$((bytes + S_BYTES[i])); done; done
    at=$(nearest "$FILES_ROOT")
    local have=$(($(free_kib "$at") * 1024))
    if ((bytes > have)); then fail disk "the files need $(human "$bytes") under $FILES_ROOT, which has $(human "$have") free"
    else pass disk "$(human "$bytes") of files under $FILES_ROOT ($(human "$have") free)"
    fi
  fi
}

# The file plan: every entry of the selected sets goes to FILES_ROOT + its path. Refused, as
# Lifeboat's own restore refuses them: paths that are not plain absolute paths, entries whose
# data the index does not vouch for, entries under a link or file this restore creates, under a
# link on this system (between the root and the entry), and files where a directory stands now.
declare -A DEST_TYPE=() DISK=() MEMBER_SHA=()
REFUSED=() PLAN_FILES=()
dest_of() { if [[ $FILES_ROOT == / ]]; then printf -v "$1" '%s' "$2"; elif [[ $2 == / ]]; then printf -v "$1" '%s' "$ROOT"; else printf -v "$1" '%s' "$ROOT$2"; fi; }
refuse_entry() { REFUSED+=("${F_SET[$1]}:${F_PATH[$1]@Q} $2"); }
check_files() {
  ((${#SEL_SETS[@]})) || return 0
  ROOT=${FILES_ROOT%/}
  local i j set p dest parent trusted d kind why
  local -A selected=() dirs=()
  for set in "${SEL_SETS[@]}"; do selected[$set]=1; done
  for i in "${!M_NAME[@]}"; do MEMBER_SHA[${M_NAME[i]}]=${M_SHA[i]}; done
  local -a first=()
  for i in "${!F_PATH[@]}"; do
    [[ -n ${selected[${F_SET[i]}]:-} ]] || continue
    p=${F_PATH[i]}
    case ${F_TYPE[i]} in f | d | l) ;; *) refuse_entry "$i" "is of type ${F_TYPE[i]}: only files, directories and symlinks are restored"; continue ;; esac
    if [[ $p != /* || $p == *//* || $p == */./* || $p == */../* || $p == */. || $p == */.. || ($p == */ && $p != /) ]]; then
      refuse_entry "$i" "is not a plain absolute path (a \"..\", \".\" or \"//\")"; continue
    fi
    if [[ ${F_TYPE[i]} == l && -z ${F_LINK[i]} ]]; then refuse_entry "$i" "is a symlink without a target"; continue; fi
    if [[ ${F_TYPE[i]} == f ]]; then
      if [[ ${F_MEMBER[i]} != "files/${F_SET[i]}$p" || ${MEMBER_SHA[${F_MEMBER[i]}]:-} != "${F_SHA[i]}" ]]; then
        refuse_entry "$i" "names its data ${F_MEMBER[i]@Q}, which the bundle does not hold with its sha256"; continue
      fi
    fi
    [[ $p != / || ${F_TYPE[i]} == d ]] || { refuse_entry "$i" "would replace the files root itself"; continue; }
    dest_of dest "$p"
    if [[ -n ${DEST_TYPE[$dest]:-} ]]; then
      # Overlapping sets list an entry once in each: harmless when it is the same.
      j=${DEST_TYPE[$dest]#*:}
      [[ "${F_TYPE[j]}|${F_SHA[j]}|${F_LINK[j]}|${F_MODE[j]}|${F_UID[j]}|${F_GID[j]}" == "${F_TYPE[i]}|${F_SHA[i]}|${F_LINK[i]}|${F_MODE[i]}|${F_UID[i]}|${F_GID[i]}" ]] ||
        refuse_entry "$i" "is listed twice with different contents (also in set ${F_SET[j]})"
      continue
    fi
    DEST_TYPE[$dest]=${F_TYPE[i]}:$i
    [[ ${F_TYPE[i]} != d ]] || dirs["${F_SET[i]}:$p"]=1
    first+=("$i")
  done
  for i in "${first[@]}"; do
    p=${F_PATH[i]}
    dest_of dest "$p"
    # In place, a set's top directory's parent is trusted as it is (as /etc for /etc/nginx);
    # under another root, everything below that root is checked.
    if [[ $FILES_ROOT == / ]]; then
      trusted=$p
      while [[ $trusted != / ]]; do
        parent=${trusted%/*}; parent=${parent:-/}
        [[ -n ${dirs["${F_SET[i]}:$parent"]:-} ]] || break
        trusted=$parent
      done
      trusted=${trusted%/*}; trusted=${trusted:-/}
    else
      trusted=$ROOT
    fi
    why='' d=$dest
    while :; do
      d=${d%/*}; d=${d:-/}
      [[ $d != "$trusted" && ${#d} -gt ${#trusted} ]] || break
      kind=${DEST_TYPE[$d]:-}; kind=${kind%%:*}
      case $kind in
        l) why="lies under ${d@Q}, which this restore creates as a symlink: a restore never writes through a link"; break ;;
        f) why="lies under ${d@Q}, which this restore creates as a file"; break ;;
        d) continue ;;
      esac
      if [[ -z ${DISK[$d]:-} ]]; then
        if [[ -L $d ]]; then DISK[$d]=l; elif [[ -d $d ]]; then DISK[$d]=d; elif [[ -e $d ]]; then DISK[$d]=f; else DISK[$d]=-; fi
      fi
      case ${DISK[$d]} in
        l) why="lies under ${d@Q}, a symlink on this system: a restore never writes through a link"; break ;;
        f) why="lies under ${d@Q}, which is not a directory on this system"; break ;;
      esac
    done
    if [[ -z $why && ${F_TYPE[i]} != d && -d $dest && ! -L $dest ]]; then why="is a file or link in the backup but a directory on this system"; fi
    if [[ -n $why ]]; then refuse_entry "$i" "$why"; else PLAN_FILES+=("$i"); fi
  done
  if ((${#REFUSED[@]})); then
    fail files "${#REFUSED[@]} entries would leave $FILES_ROOT or cannot be written safely:"
    for why in "${REFUSED[@]:0:10}"; do CHECK_LINES+=("            $why"); done
  else
    pass files "${#PLAN_FILES[@]} entries of set(s) ${SEL_SETS[*]} go under $FILES_ROOT"
  fi
}

print_checks() {
  say "Checks"
  local line
  for line in "${CHECK_LINES[@]}"; do say "$line"; done
}

print_plan() {
  local i db
  say "Plan"
  ((GLOBALS == 0)) || say "  roles     from databases/globals.sql; those that exist are kept as they are"
  for i in "${SEL_DB[@]}"; do
    db=${DB_NAME[i]}
    case ${ACTION[$db]:-create} in
      create) say "  database  $db: create and restore (${DB_TABLES[i]} tables, ${DB_ROWS[i]} rows)" ;;
      clean) if [[ $db == postgres ]]; then say "  database  postgres: drop what the dump holds and restore into it (--clean)"; else say "  database  $db: DROP the existing database, create and restore (--clean)"; fi ;;
      into) say "  database  postgres: restore into the existing, empty database" ;;
      redo) say "  database  $db: an earlier run stopped while restoring it: drop it and restore again" ;;
      keep) say "  database  $db: restored by an earlier run; kept, validated again" ;;
    esac
  done
  ((${#SEL_DB[@]})) || say "  databases none"
  if ((${#SEL_SETS[@]})); then say "  files     set(s) ${SEL_SETS[*]} under $FILES_ROOT"
  elif [[ -z $FILES_ROOT ]] && ((${#S_NAME[@]})); then say "  files     none (pass --files-root DIR to restore them)"
  else say "  files     none"
  fi
}

run_checks() {
  local line id='(unknown)' re='^  "id": "([^"]*)",$'
  while IFS= read -r line; do if [[ $line =~ $re ]]; then id=${BASH_REMATCH[1]}; break; fi; done <manifest.json
  say "restore.sh for backup $id: checking before changing anything"
  check_members
  if ((FAILED == 0)) && load_index_or_fail; then
    select_items
    check_tools
    check_server
    read_state
    check_databases
    check_disk
    check_files
  fi
  if ((FAILED)); then
    # A refusal is an error: on stderr, where a caller looks for why.
    { print_checks; say "Refused: $FAILED check(s) failed; nothing was changed."; } >&2
    exit 2
  fi
  print_checks
  print_plan
}

run_checks
[[ $MODE == restore ]] || exit 0

# ---------------------------------------------------------------------------------------------
# Restore
# ---------------------------------------------------------------------------------------------
RESULT_WHAT=() RESULT_STATE=() RESULT_DETAIL=()
result() { RESULT_WHAT+=("$1"); RESULT_STATE+=("$2"); RESULT_DETAIL+=("$3"); }
quote_ident() { local s=${1//\"/\"\"}; printf '"%s"' "$s"; }

restore_globals() {
  local line name kept=0 created=0 re_role='^(CREATE|ALTER) ROLE ("([^"]|"")+"|[^[:space:];]+)' re_space='^CREATE TABLESPACE ("([^"]|"")+"|[^[:space:];]+)'
  local -A seen=()
  while IFS= read -r line || [[ -n $line ]]; do
    if [[ $line =~ $re_role ]]; then
      name=${BASH_REMATCH[2]}
      if [[ $name == \"* ]]; then name=${name:1:-1}; name=${name//\"\"/\"}; fi
      if [[ -n ${ROLES[$name]:-} ]]; then
        [[ -n ${seen[$name]:-} ]] || kept=$((kept + 1))
        seen[$name]=1; continue
      fi
      [[ -n ${seen[$name]:-} ]] || created=$((created + 1))
      seen[$name]=1
    elif [[ $line =~ $re_space ]]; then
      name=${BASH_REMATCH[1]}
      if [[ $name == \"* ]]; then name=${name:1:-1}; name=${name//\"\"/\"}; fi
      [[ -z ${SPACES[$name]:-} ]] || continue
    fi
    printf '%s\n' "$line"
  done <databases/globals.sql >"$TMP/globals.sql"
  sql "$MAINT" -f "$TMP/globals.sql" || return 1
  GLOBALS_DETAIL="$created role(s) created, $kept kept as they were"
}

# Restores one database; returns 1 on failure (its messages are on stderr).
restore_database() {
  local i=$1 db=${DB_NAME[$1]} action=${ACTION[${DB_NAME[$1]}]:-create} j status=0 input='' watcher=''
  local -a parts=() opts=(--exit-on-error)
  [[ $action != keep ]] || return 0
  for j in "${!P_DB[@]}"; do [[ ${P_DB[j]} != "$db" ]] || parts+=("${P_MEMBER[j]}"); done
  ((NO_OWNER == 0)) || opts+=(--no-owner --no-privileges)
  ((JOBS == 1)) || opts+=(--jobs="$JOBS")
  if [[ $db == postgres ]]; then
    # Always there: restored into, never dropped; noted first, so a re-run may clean it.
    note_state started "${EXISTS[postgres]:-}" postgres
    [[ $action == into ]] || opts+=(--clean --if-exists)
  else
    if [[ $action == clean || $action == redo ]]; then
      say "Dropping database $db..."
      local force=''
      ((SERVER_MAJOR < 13)) || force=' with (force)'
      sql "$MAINT" -c "drop database if exists $(quote_ident "$db")$force" || return 1
    fi
    opts+=(--create)
  fi
  say "Restoring database $db (${DB_TABLES[i]} tables, ${DB_ROWS[i]} rows, $(human "${DB_SIZE[i]}"))..."
  if ((JOBS > 1)); then
    # pg_restore --jobs needs a file it can seek in: one member is one; parts are joined.
    if ((${#parts[@]} == 1)); then
      input=${parts[0]}
    else
      JOINED=$WORK/.restore-joined.dump
      say "  joining ${#parts[@]} parts into $JOINED for --jobs..."
      cat -- "${parts[@]}" >"$JOINED" || return 1
      input=$JOINED
    fi
  fi
  if [[ $db != postgres ]]; then
    # pg_restore --create makes the database first: its oid goes to the state file as soon as it
    # exists, so that a run killed part-way leaves what the next run needs to take it back.
    watch_created "$db" &
    watcher=$!
  fi
  if [[ -n $input ]]; then
    PGDATABASE=$MAINT pg_restore "${opts[@]}" -d "$CONN" -- "$input" || status=$?
  else
    # A pipe suffices without --jobs: no joined copy of the dump is written.
    cat -- "${parts[@]}" | PGDATABASE=$MAINT pg_restore "${opts[@]}" -d "$CONN" || status=$?
  fi
  if [[ -n $watcher ]]; then kill "$watcher" 2>/dev/null || true; wait "$watcher" 2>/dev/null || true; fi
  if [[ -n $JOINED ]]; then rm -f -- "$JOINED"; JOINED=''; fi
  ((status == 0)) && return 0
  # The watcher may not have seen it yet: a re-run must find it noted.
  local oid
  oid=$(db_oid "$db") || oid=''
  [[ -z $oid || $db == postgres ]] || note_state started "$oid" "$db"
  return 1
}
db_oid() { sql "$MAINT" -v name="$1" <<<"select oid from pg_database where datname = :'name'"; }
watch_created() {
  local oid=''
  while [[ -z $oid ]]; do
    sleep 0.2
    oid=$(db_oid "$1" 2>/dev/null) || oid=''
  done
  note_state started "$oid" "$1"
}

# Row counts of every table the index lists for database index $1, against the server's.
declare -A DB_OID=()
validate_database() {
  local i=$1 db=${DB_NAME[$1]} j n=0 bad=0 line
  local -a expect=() names=()
  # First the database's oid, for the state file.
  printf 'select oid from pg_database where datname = current_database();\n' >"$TMP/count.sql"
  for j in "${!T_DB[@]}"; do
    [[ ${T_DB[j]} == "$db" && ${T_ROWS[j]} != - ]] || continue
    expect+=("${T_ROWS[j]}"); names+=("${T_SCHEMA[j]}.${T_NAME[j]}")
    printf 'select count(*) from %s.%s;\n' "$(quote_ident "${T_SCHEMA[j]}")" "$(quote_ident "${T_NAME[j]}")"
  done >>"$TMP/count.sql"
  local -a got=()
  while IFS= read -r line; do got+=("$line"); done < <(sql "$db" -f "$TMP/count.sql" 2>"$TMP/err")
  DB_OID[$db]=${got[0]:-}
  got=("${got[@]:1}")
  ((${#expect[@]})) || { VALID_DETAIL="no tables"; return 0; }
  for j in "${!expect[@]}"; do
    if [[ ${got[j]:-} != "${expect[j]}" ]]; then
      bad=$((bad + 1))
      ((bad > 5)) || printf 'restore.sh: %s: table %s has %s rows, the manifest says %s\n' "$db" "${names[j]}" "${got[j]:-(none: $(head -n 1 "$TMP/err"))}" "${expect[j]}" >&2
    else
      n=$((n + expect[j]))
    fi
  done
  if ((bad)); then VALID_DETAIL="$bad of ${#expect[@]} tables differ from the manifest's row counts"; return 1; fi
  VALID_DETAIL="${#expect[@]} tables, $n rows: every row count matches"
}

# Files: the selected entries are copied from files/<set>/ with tar, then owner (as root), mode
# and mtime set from the index wherever they differ (the unpacking may not have kept them).
restore_files() {
  local set i p dest list rel status=0
  mkdir -p -- "$FILES_ROOT" || return 1
  for set in "${SEL_SETS[@]}"; do
    list=$TMP/files-$set.list
    : >"$list"
    for i in "${PLAN_FILES[@]}"; do
      [[ ${F_SET[i]} == "$set" ]] || continue
      p=${F_PATH[i]}
      dest_of dest "$p"
      # A directory replaces a link or file that stands where it goes.
      if [[ ${F_TYPE[i]} == d && (-L $dest || (-e $dest && ! -d $dest)) ]]; then rm -f -- "$dest" || return 1; fi
      if [[ $p == / ]]; then rel=.; else rel=.$p; fi
      printf '%s\0' "$rel" >>"$list"
    done
    local -a xopts=(--no-recursion -x -f - -C "$FILES_ROOT")
    if ((EUID == 0)); then xopts+=(--same-owner -p); else xopts+=(--no-same-owner); fi
    tar -C "files/$set" --null --no-recursion -T "$list" -c -f - | tar "${xopts[@]}" || status=1
  done
  ((status == 0)) || return 1
  fix_metadata
}

FIXED=0 OWNERS_KEPT=0
fix_metadata() {
  local i dest rec rest m u g t name
  local -A want=()
  local -a dests=()
  for i in "${PLAN_FILES[@]}"; do
    dest_of dest "${F_PATH[i]}"
    want[$dest]=$i
    dests+=("$dest")
  done
  # One stat per 500 entries: "mode uid gid mtime name", NUL-terminated (names may hold newlines).
  for ((i = 0; i < ${#dests[@]}; i += 500)); do
    stat --printf '%a\t%u\t%g\t%Y\t%n\0' -- "${dests[@]:i:500}" || true
  done >"$TMP/stat.out"
  while IFS= read -r -d '' rec; do
    m=${rec%%$'\t'*} rest=${rec#*$'\t'}
    u=${rest%%$'\t'*} rest=${rest#*$'\t'}
    g=${rest%%$'\t'*} rest=${rest#*$'\t'}
    t=${rest%%$'\t'*} name=${rest#*$'\t'}
    i=${want[$name]:-}
    [[ -n $i ]] || continue
    if [[ $u != "${F_UID[i]}" || $g != "${F_GID[i]}" ]]; then
      if ((EUID == 0)); then
        chown -h -- "${F_UID[i]}:${F_GID[i]}" "$name" && FIXED=$((FIXED + 1))
        # chown clears set-uid and set-gid bits: the mode is set again below.
        m=''
      else
        OWNERS_KEPT=$((OWNERS_KEPT + 1))
      fi
    fi
    if [[ ${F_TYPE[i]} != l && $m != "${F_MODE[i]}" ]]; then chmod -- "${F_MODE[i]}" "$name" && FIXED=$((FIXED + 1)); fi
    if [[ $t != "${F_MTIME[i]%.*}" ]]; then touch -h -d "@${F_MTIME[i]}" -- "$name" && FIXED=$((FIXED + 1)); fi
  done <"$TMP/stat.out"
}

# Every restored file's sha256 against the index (which manifest.json vouches for).
validate_files() {
  local i dest sums=$TMP/files.sha256 n=0 bytes=0 bad
  for i in "${PLAN_FILES[@]}"; do
    [[ ${F_TYPE[i]} == f ]] || continue
    dest_of dest "${F_PATH[i]}"
    sum_line "${F_SHA[i]}" "$dest"
    n=$((n + 1)) bytes=$((bytes + F_SIZE[i]))
  done >"$sums"
  if ((n == 0)); then FILES_DETAIL="${#PLAN_FILES[@]} entries, no regular files"; return 0; fi
  if bad=$(check_sums "$sums"); then
    FILES_DETAIL="${#PLAN_FILES[@]} entries, $n files ($(human "$bytes")): every sha256 matches"
  else
    printf 'restore.sh: restored files that do not match the manifest:\n%s\n' "$(printf '%s\n' "$bad" | head -n 10)" >&2
    FILES_DETAIL="restored files differ from the manifest (listed above)"
    return 1
  fi
}

say ''
say 'Restoring'
started=$SECONDS
mkdir -p -- "$WORK"
: >>"$STATE"
PARTIAL=0
if ((GLOBALS)); then
  GLOBALS_DETAIL=''
  say "Restoring roles and tablespaces..."
  if restore_globals; then result roles ok "$GLOBALS_DETAIL"; else result roles FAILED "psql stopped at an error (above)"; PARTIAL=1; fi
fi
for i in "${SEL_DB[@]}"; do
  db=${DB_NAME[i]}
  if ! restore_database "$i"; then
    result "database $db" FAILED "pg_restore failed (above); a re-run restores it again"
    PARTIAL=1
    continue
  fi
  VALID_DETAIL=''
  if validate_database "$i"; then
    [[ ${ACTION[$db]:-} == keep ]] && VALID_DETAIL="kept from an earlier run; $VALID_DETAIL"
    result "database $db" ok "$VALID_DETAIL"
    oid=${DB_OID[$db]:-${EXISTS[$db]:-}}
    [[ -z $oid ]] || note_state finished "$oid" "$db"
  else
    result "database $db" FAILED "$VALID_DETAIL"
    PARTIAL=1
  fi
done
if ((${#SEL_SETS[@]})); then
  say "Restoring files under $FILES_ROOT..."
  FILES_DETAIL=''
  if ! restore_files; then
    result files FAILED "tar stopped at an error (above)"; PARTIAL=1
  elif validate_files; then
    ((FIXED == 0)) || FILES_DETAIL+="; $FIXED owner/mode/mtime settings made from the manifest"
    ((OWNERS_KEPT == 0)) || FILES_DETAIL+="; $OWNERS_KEPT owners left as they are (restoring owners needs root)"
    result files ok "$FILES_DETAIL"
  else
    result files FAILED "$FILES_DETAIL"; PARTIAL=1
  fi
fi

say ''
say "Summary ($((SECONDS - started)) s)"
for i in "${!RESULT_WHAT[@]}"; do printf '  %-7s %-28s %s\n' "${RESULT_STATE[i]}" "${RESULT_WHAT[i]}" "${RESULT_DETAIL[i]}"; done
if ((PARTIAL)); then
  say "The restore is PARTIAL: fix what failed and run restore.sh again with the same options."
  exit 1
fi
rm -f -- "$STATE"
say "The restore is whole: every row count and file checksum matches the manifest."
