import type { Api, RouteEntry } from '../api.ts';
import { registerAudit } from './audit.ts';
import { registerAuth } from './auth.ts';
import { registerBackups } from './backups.ts';
import { registerDrills } from './drills.ts';
import { registerImports } from './imports.ts';
import { registerJobs } from './jobs.ts';
import { registerListings } from './listings.ts';
import { registerMaintenance } from './maintenance.ts';
import { registerObjects } from './objects.ts';
import { registerRestores } from './restores.ts';
import { registerSchedules } from './schedules.ts';
import { registerSystem } from './system.ts';
import { registerUsers } from './users.ts';
import { registerWorkflows } from './workflows.ts';

/** Every route group; each declares its routes, with who may call them, into `table`. */
export function registerRoutes(api: Api, table: RouteEntry[]): void {
  registerSystem(api, table);
  registerAuth(api, table);
  registerUsers(api, table);
  registerObjects(api, table);
  registerSchedules(api, table);
  registerImports(api, table);
  registerListings(api, table);
  registerBackups(api, table);
  registerDrills(api, table);
  registerWorkflows(api, table);
  registerRestores(api, table);
  registerMaintenance(api, table);
  registerJobs(api, table);
  registerAudit(api, table);
}
