import { parsePgUrl, databaseOf } from '../postgres/connection.ts';

/**
 * The commented lifeboat.yaml that `lifeboat init` writes: one local storage and one target.
 * Connection details are taken from DATABASE_URL or the PG* variables, but written as
 * `${...}` references so no secret lands in the file.
 */
export function initialConfig(env: NodeJS.ProcessEnv, opts: { target: string; storagePath: string }): string {
  let url: string;
  let databases: string;
  if (env.DATABASE_URL) {
    url = '${DATABASE_URL}';
    let db: string | undefined;
    try {
      db = databaseOf(parsePgUrl(env.DATABASE_URL));
    } catch {
      db = undefined;
    }
    databases = db ? `[${db}]` : 'all';
  } else {
    url = 'postgres://${PGUSER:-postgres}:${PGPASSWORD:-}@${PGHOST:-localhost}:${PGPORT:-5432}/${PGDATABASE:-postgres}';
    databases = env.PGDATABASE ? `[${env.PGDATABASE}]` : 'all';
  }
  return `# Lifeboat configuration. Reference: README.md, "Configuration".
# Secrets never belong here: write \${VAR} and set VAR (or VAR_FILE, a file holding it).

storages:
  # Any mounted directory: a local disk, a NAS, an NFS or SMB mount.
  local: { type: local, path: ${opts.storagePath} }

targets:
  ${opts.target}:
    postgres:
      url: ${url}
      databases: ${databases}          # a list, or all (every database but templates)
      globals: false              # true adds roles and tablespaces (pg_dumpall --globals-only)
    profile: auto                 # auto (n8n, django or prisma by their tables, else generic) | generic | n8n | django | prisma
    # Files around the app, by set name; directories are walked, symlinks kept as symlinks.
    # files:
    #   config: [/opt/app/.env, /opt/app/docker-compose.yaml, /etc/nginx/nginx.conf]
    #   media: { paths: [/srv/app/media], exclude: ["**/cache/**"] }
    # onUnreadable: fail           # fail | skip: what to do with a file that cannot be read
    storage: local                # or { primary: local, replicas: [...] }
    compression: { algorithm: zstd, level: 3 }   # zstd | gzip | none
    # encryption: { recipients: [age1...], identityFile: /root/lifeboat-key.txt }
    # encryption: { passphrase: \${LIFEBOAT_PASSPHRASE} }
`;
}
