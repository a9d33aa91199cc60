import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { Catalog } from '../../src/catalog/catalog.ts';
import { createUser } from '../../src/auth/users.ts';
import type { Role } from '../../src/auth/roles.ts';

/** A real catalog in a temp home, closed and removed after the file's tests. */
export function tempCatalog(): Catalog {
  const home = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-auth-'));
  const catalog = Catalog.open(home);
  after(() => {
    catalog.close();
    rmSync(home, { recursive: true, force: true });
  });
  return catalog;
}

export const PASSWORD = 'correct horse battery staple';

/** Creates a user with PASSWORD. */
export function addUser(catalog: Catalog, name: string, role: Role) {
  return createUser(catalog, { name, role, password: PASSWORD });
}

/** The catalog's bytes on disk, its WAL included (recent writes sit there until a checkpoint). */
export function catalogBytes(catalog: Catalog): Buffer {
  return Buffer.concat([catalog.file, `${catalog.file}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f)));
}
