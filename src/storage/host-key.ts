import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

/** Where an SSH server's key is checked: a pinned fingerprint, else a known_hosts file. */
export interface HostKeyPolicy {
  host: string;
  port: number;
  /** `SHA256:...` as `ssh-keygen -lf` prints it; when set, known_hosts is not read. */
  hostKey?: string;
  /** Default ~/.ssh/known_hosts. */
  knownHosts?: string;
}

/**
 * What the check found. Every kind but `trusted` refuses the connection; the callers (the SFTP
 * storage, the remote restore) word the refusal for their own options.
 */
export type HostKeyVerdict =
  | { kind: 'trusted' }
  | { kind: 'pin-mismatch'; hostId: string; seen: string; pinned: string }
  | { kind: 'revoked'; hostId: string; seen: string; file: string }
  | { kind: 'mismatch'; hostId: string; seen: string; file: string }
  | { kind: 'unknown'; hostId: string; seen: string; file: string };

/** The OpenSSH fingerprint of a host key blob: `SHA256:` and unpadded base64. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** Checks the server's key against the pinned fingerprint, else known_hosts. */
export function judgeHostKey(policy: HostKeyPolicy, key: Buffer): HostKeyVerdict {
  const seen = fingerprint(key);
  const hostId = policy.port === 22 ? policy.host : `[${policy.host}]:${policy.port}`;
  if (policy.hostKey) {
    const pinned = policy.hostKey.replace(/=$/, '');
    return pinned === seen ? { kind: 'trusted' } : { kind: 'pin-mismatch', hostId, seen, pinned: policy.hostKey };
  }
  const file = policy.knownHosts ?? path.join(homedir(), '.ssh', 'known_hosts');
  let lines: string[] = [];
  try {
    lines = readFileSync(file, 'utf8').split('\n');
  } catch {
    // No known_hosts: every host is unknown.
  }
  const blob = key.toString('base64');
  let listed = false;
  for (const line of lines) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 3 || fields[0]!.startsWith('#')) continue;
    const marker = fields[0]!.startsWith('@') ? fields.shift() : undefined;
    if (marker === '@cert-authority') continue;
    const [hosts, , keyData] = fields;
    if (!hosts!.split(',').some((h) => hostMatches(h, hostId))) continue;
    if (marker === '@revoked' && keyData === blob) return { kind: 'revoked', hostId, seen, file };
    if (marker === '@revoked') continue;
    listed = true;
    if (keyData === blob) return { kind: 'trusted' };
  }
  return { kind: listed ? 'mismatch' : 'unknown', hostId, seen, file };
}

/** A known_hosts host pattern: plain, `[host]:port`, or hashed `|1|salt|hash`. */
function hostMatches(pattern: string, hostId: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    return createHmac('sha1', Buffer.from(salt!, 'base64')).update(hostId).digest('base64') === hash;
  }
  return pattern === hostId;
}
