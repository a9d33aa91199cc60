import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { LifeboatError } from '../errors.ts';
import type { RestorePlan } from '../jobs/restore.ts';

/** How long a plan may be read before it must be made again. */
export const PLAN_TTL_MS = 10 * 60_000;

const VOLATILE_CHECKS = new Set(['checksums', 'temp space']);

const sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');

/** JSON with sorted keys, so equal objects give equal text. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

/**
 * What the user read in a plan and agreed to: which backup, what is created or replaced where,
 * and which checks passed. Details that move by themselves between plan and run (free space,
 * durations) are left out, so only a real change (a new table on the target, another backup
 * chosen, a check that now fails) makes the run refuse.
 */
export function planDigest(plan: RestorePlan): string {
  return sha256(canonical({
    backupId: plan.backupId,
    databases: plan.databases.map((d) => ({ database: d.database, server: d.server, action: d.action, source: d.source })),
    tables: plan.tables.map((t) => ({ database: t.database, table: t.table, action: t.action, as: t.as, closure: t.closure })),
    files: plan.files.map((f) => ({ destination: f.destination, action: f.action, type: f.type })),
    // The checksum pass runs only in a dry run (a real run checks while extracting); free space
    // moves by itself. A schema check's detail is what the user agreed to lose: it counts.
    checks: plan.checks.filter((c) => !VOLATILE_CHECKS.has(c.name)).map((c) => ({ name: c.name, ok: c.ok, ...(c.name.startsWith('schema of ') ? { detail: c.detail } : {}) })),
    replacesData: plan.replacesData,
    safetyBackup: plan.safetyBackup,
    globals: plan.globals,
  }));
}

/** A token binding this request to this plan, signed with the server's key. */
export function issuePlanToken(key: Buffer, request: unknown, plan: RestorePlan, now = new Date()): string {
  const payload = Buffer.from(JSON.stringify({ r: sha256(canonical(request)), p: planDigest(plan), d: plan.replacesData, t: now.getTime() })).toString('base64url');
  return `${payload}.${createHmac('sha256', key).update(payload).digest('base64url')}`;
}

/**
 * Checks a plan token against the request it comes with; answers the digest of the plan it
 * bound and whether that plan replaces data. A token for another request, altered, made by another server process, or older than
 * ten minutes is a 409: the user must plan again and read what would happen now.
 */
export function checkPlanToken(key: Buffer, token: string, request: unknown, now = new Date()): { digest: string; replacesData: boolean } {
  const [payload, mac] = token.split('.');
  const expected = payload ? createHmac('sha256', key).update(payload).digest() : undefined;
  const given = Buffer.from(mac ?? '', 'base64url');
  if (!payload || !expected || given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new LifeboatError('E_CONFLICT', 'the planToken is not one this server issued (or the server restarted since)', { hint: 'make the plan again: POST /api/v1/restores with "dryRun": true' });
  }
  const t = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { r: string; p: string; d: boolean; t: number };
  if (now.getTime() - t.t > PLAN_TTL_MS) throw new LifeboatError('E_CONFLICT', `the plan is older than ${PLAN_TTL_MS / 60_000} minutes`, { hint: 'make the plan again and read it: the target may have changed' });
  if (t.r !== sha256(canonical(request))) throw new LifeboatError('E_CONFLICT', 'the planToken was made for another request (a different backup, selection or destination)', { hint: 'send the same fields as the dry run, or plan again' });
  return { digest: t.p, replacesData: t.d };
}

/** The part of a restore request a plan token binds: everything but the token and the confirmation. */
export function boundRequest<T extends { dryRun?: boolean; planToken?: string; confirm?: string }>(r: T): Omit<T, 'dryRun' | 'planToken' | 'confirm'> {
  const rest: Record<string, unknown> = { ...r };
  for (const k of ['dryRun', 'planToken', 'confirm']) delete rest[k];
  return rest as Omit<T, 'dryRun' | 'planToken' | 'confirm'>;
}
