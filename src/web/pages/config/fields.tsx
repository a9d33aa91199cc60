// Form fields of the config screens: a labelled input, and a secret that is never shown (a
// stored one reads "set" and can be replaced, not read back).
import { useId, useState, type ReactNode } from 'react';
import { Badge } from '../../components/page.tsx';

export function Field({ label, value, onChange, type = 'text', required, placeholder, help, autoComplete, disabled }: {
  label: string; value: string; onChange: (v: string) => void; type?: string; required?: boolean; placeholder?: string; help?: ReactNode; autoComplete?: string; disabled?: boolean;
}) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} type={type} value={value} required={required} placeholder={placeholder} autoComplete={autoComplete ?? 'off'} disabled={disabled}
        aria-describedby={help ? `${id}-help` : undefined} onChange={(e) => onChange(e.target.value)} />
      {help && <div id={`${id}-help`} className="muted small">{help}</div>}
    </div>
  );
}

export function Select<T extends string>({ label, value, onChange, options, help }: { label: string; value: T; onChange: (v: T) => void; options: readonly (readonly [T, string])[]; help?: ReactNode }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value as T)} aria-describedby={help ? `${id}-help` : undefined}>
        {options.map(([v, text]) => (
          <option key={v} value={v}>{text}</option>
        ))}
      </select>
      {help && <div id={`${id}-help`} className="muted small">{help}</div>}
    </div>
  );
}

/**
 * A secret's field. `shown` is what the server shows of a stored one (a database URL without its
 * password). `stored` says the object already has one: then the field shows "set" and a
 * Replace button; left alone, the value stays `undefined` and the key is left out of the patch
 * (the server keeps what it has).
 */
export function SecretField({ label, stored, value, onChange, required, shown }: { label: string; stored: boolean; value: string | undefined; onChange: (v: string | undefined) => void; required?: boolean; shown?: string }) {
  const id = useId();
  const [replacing, setReplacing] = useState(!stored);
  if (!replacing) {
    return (
      <div className="field">
        <span className="label" id={id}>{label}</span>
        <div className="secret-set">
          <Badge tone="ok" title="stored sealed; never shown again">set</Badge>
          {shown && <code>{shown}</code>}
          <button type="button" aria-describedby={id} onClick={() => { setReplacing(true); onChange(''); }}>
            Replace {label.toLowerCase()}
          </button>
        </div>
      </div>
    );
  }
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <div className="secret-set">
        <input id={id} type="password" autoComplete="new-password" value={value ?? ''} required={required && !stored} onChange={(e) => onChange(e.target.value)} />
        {stored && (
          <button type="button" onClick={() => { setReplacing(false); onChange(undefined); }}>
            Keep the stored one
          </button>
        )}
      </div>
      <div className="muted small">Write-only: once saved it is never shown, only replaced.</div>
    </div>
  );
}

export function Checkbox({ label, checked, onChange }: { label: ReactNode; checked: boolean; onChange: (v: boolean) => void }) {
  return (
    <label className="inline">
      <input type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} /> {label}
    </label>
  );
}
