import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** Django migrations in a project: `<app>/migrations/<name>.py` (not __init__), as `app.name`. */
export function djangoMigrationsInCode(dirs: string[]): Set<string> {
  const found = new Set<string>();
  const walk = (dir: string, depth: number) => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.startsWith('.') || e === 'node_modules' || e === '__pycache__' || e === 'venv' || e === '.venv') continue;
      const full = path.join(dir, e);
      const isDir = (() => {
        try {
          return statSync(full).isDirectory();
        } catch {
          return false;
        }
      })();
      if (!isDir) continue;
      if (e === 'migrations') {
        const app = path.basename(dir);
        for (const f of readdirSync(full)) if (/^\d{4}_.*\.py$/.test(f)) found.add(`${app}.${f.slice(0, -3)}`);
      } else if (depth < 6) walk(full, depth + 1);
    }
  };
  for (const d of dirs) walk(d, 0);
  return found;
}

/** Prisma migrations in code: `<dir>/<name>/migration.sql`, with the sha256 Prisma records, for LF and CRLF endings. */
export function prismaMigrationsInCode(dir: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const entries = (() => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  })();
  for (const name of entries) {
    let sql: Buffer;
    try {
      sql = readFileSync(path.join(dir, name, 'migration.sql'));
    } catch {
      continue;
    }
    const text = sql.toString('utf8');
    const variants = [text, text.replace(/\r\n/g, '\n'), text.replace(/\r?\n/g, '\r\n')];
    found.set(name, [...new Set(variants.map((v) => createHash('sha256').update(v).digest('hex')))]);
  }
  return found;
}
