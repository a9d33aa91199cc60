import { LifeboatError } from '../errors.ts';

/**
 * User and token names appear in audit actors (`token:ci (alice)`), in URLs and in commands:
 * a plain alphabet, compared in lower case so `Alice` and `alice` are one user.
 */
const NAME = /^[a-z0-9][a-z0-9._@-]{0,63}$/;

/** The name in its stored (lower-case) form, or E_USAGE saying what a name may hold. */
export function parseName(kind: 'user' | 'token', value: string): string {
  const lower = value.trim().toLowerCase();
  if (!NAME.test(lower)) {
    throw new LifeboatError('E_USAGE', `"${value}" is not a valid ${kind} name: 1 to 64 letters, digits, ".", "_", "-" or "@", starting with a letter or digit`);
  }
  return lower;
}

/** The name in stored form, or undefined: for lookups that must not say why they found nothing. */
export function normalName(value: string): string | undefined {
  const lower = value.trim().toLowerCase();
  return NAME.test(lower) ? lower : undefined;
}
