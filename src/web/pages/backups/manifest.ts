// The parts of a backup's manifest (GET /api/v1/backups/{id}, `manifest`) the detail tabs read:
// the API's Manifest schema (src/bundle/manifest-schema.ts, what the bundle holds).
import type { Schema } from '../../api/client.ts';

export type Manifest = NonNullable<Schema<'Manifest'>>;
export type ManifestDatabase = NonNullable<Manifest['postgres']>['databases'][number];
export type ManifestTable = ManifestDatabase['tables'][number];
export type ManifestFile = Manifest['files'][number];

