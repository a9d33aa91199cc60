// Turning a form's strings into the body the API takes: a new object leaves empty fields out; a
// change (JSON merge patch) sends null for a field emptied, so the server removes the key, and
// leaves out a secret not replaced, so the server keeps it.

/** A field of a form: its key in the config, and whether it is a number or a yes/no. */
export interface FieldSpec {
  key: string;
  kind?: 'text' | 'number' | 'boolean' | 'list';
  secret?: boolean;
}

export type FormValues = Record<string, string | boolean | undefined>;

/** The config (or merge patch, when `editing`) for these fields' values. */
export function toBody(fields: readonly FieldSpec[], values: FormValues, editing: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = values[f.key];
    if (f.secret) {
      // undefined: not replaced (kept); '' while replacing: nothing to store.
      if (typeof v === 'string' && v !== '') out[f.key] = v;
      continue;
    }
    if (f.kind === 'boolean') {
      out[f.key] = v === true;
      continue;
    }
    const text = typeof v === 'string' ? v.trim() : '';
    if (text === '') {
      if (editing) out[f.key] = null;
      continue;
    }
    out[f.key] = f.kind === 'number' ? Number(text) : f.kind === 'list' ? text.split(',').map((s) => s.trim()).filter(Boolean) : text;
  }
  return out;
}

/** A form's starting values from an object's config: secrets start undefined (kept). */
export function fromConfig(fields: readonly FieldSpec[], config: Record<string, unknown> | undefined): FormValues {
  const out: FormValues = {};
  for (const f of fields) {
    const v = config?.[f.key];
    if (f.secret) out[f.key] = undefined;
    else if (f.kind === 'boolean') out[f.key] = v === true;
    else if (Array.isArray(v)) out[f.key] = v.join(', ');
    else out[f.key] = v === undefined || v === null ? '' : String(v);
  }
  return out;
}
