// Creating or changing a notification channel made here: its kind, where it posts, and which
// events it gets.
import { useState } from 'react';
import { ProblemMessage } from '../../components/problem.tsx';
import { eventLabel, EVENT_KINDS } from './events.ts';
import { Checkbox, Field, SecretField, Select } from './fields.tsx';
import { fromConfig, toBody, type FieldSpec, type FormValues } from './form-values.ts';
import { SET, useSaveObject, type ConfigObject } from './objects.ts';

type ChannelType = 'webhook' | 'slack' | 'discord' | 'teams' | 'telegram' | 'ntfy' | 'gotify' | 'email';
const TYPES = [['webhook', 'Webhook (JSON POST, signed)'], ['slack', 'Slack'], ['discord', 'Discord'], ['teams', 'Microsoft Teams'], ['telegram', 'Telegram'], ['ntfy', 'ntfy'], ['gotify', 'Gotify'], ['email', 'Email (SMTP)']] as const;

interface Spec extends FieldSpec { label: string; help?: string; required?: boolean }
const HOOK: Spec[] = [{ key: 'webhookUrl', label: 'Webhook URL', secret: true, required: true }];
const FIELDS: Record<ChannelType, Spec[]> = {
  webhook: [{ key: 'url', label: 'URL', required: true }, { key: 'secret', label: 'Signing secret', secret: true }, { key: 'template', label: 'Body template', help: 'optional: {{event}}, {{target}}, {{message}}, {{text}}, {{payload}}' }],
  slack: HOOK, discord: HOOK, teams: HOOK,
  telegram: [{ key: 'botToken', label: 'Bot token', secret: true, required: true }, { key: 'chatId', label: 'Chat id', required: true }, { key: 'apiUrl', label: 'API URL', help: 'default https://api.telegram.org' }],
  ntfy: [{ key: 'url', label: 'Topic URL', required: true }, { key: 'token', label: 'Access token', secret: true }],
  gotify: [{ key: 'url', label: 'Server URL', required: true }, { key: 'token', label: 'App token', secret: true, required: true }],
  email: [
    { key: 'host', label: 'SMTP host', required: true }, { key: 'port', label: 'Port', kind: 'number' }, { key: 'secure', label: 'TLS from the start (port 465)', kind: 'boolean' },
    { key: 'user', label: 'SMTP user' }, { key: 'password', label: 'SMTP password', secret: true }, { key: 'from', label: 'From', required: true }, { key: 'to', label: 'To', kind: 'list', required: true, help: 'comma-separated addresses' },
  ],
};
/** `failure` stands for every failure event (as lifeboat.yaml allows). */
const CHOICES = ['failure', ...EVENT_KINDS];
const COMMON: Spec[] = [{ key: 'emergency', label: 'Emergency channel: always gets critical space and missing backups', kind: 'boolean' }, { key: 'attempts', label: 'Delivery attempts', kind: 'number' }];

export function ChannelForm({ existing, onSaved }: { existing?: ConfigObject; onSaved: (o: ConfigObject) => void }) {
  const save = useSaveObject('channel');
  const [name, setName] = useState(existing?.name ?? '');
  const [type, setType] = useState<ChannelType>((existing?.config.type as ChannelType | undefined) ?? 'webhook');
  const fields = [...FIELDS[type], ...COMMON];
  const [values, setValues] = useState<FormValues>(() => fromConfig(fields, existing?.config));
  const initialOn = existing && Array.isArray(existing.config.on) ? (existing.config.on as string[]) : [];
  const [on, setOn] = useState<Set<string>>(new Set(initialOn));
  const set = (k: string, v: string | boolean | undefined) => setValues((s) => ({ ...s, [k]: v }));
  const typeChanged = !!existing && existing.config.type !== type;
  const editing = !!existing && !typeChanged;
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        const body: Record<string, unknown> = { type, ...toBody(fields, values, editing) };
        if (on.size) body.on = CHOICES.filter((k) => on.has(k));
        else if (editing) body.on = null;
        save.mutate({ name, config: body, existing: !!existing }, { onSuccess: onSaved });
      }}
    >
      <div className="form-grid">
        <Field label="Channel name" value={name} onChange={setName} required disabled={!!existing} placeholder="e.g. ops" />
        <Select label="Kind" value={type} onChange={(t) => { setType(t); setValues(fromConfig([...FIELDS[t], ...COMMON], t === existing?.config.type ? existing.config : undefined)); }} options={TYPES} />
      </div>
      <div className="form-grid">
        {fields.map((f) =>
          f.secret ? (
            <SecretField key={`${type}-${f.key}`} label={f.label} stored={!typeChanged && existing?.config[f.key] === SET} value={values[f.key] as string | undefined} onChange={(v) => set(f.key, v)} required={f.required} />
          ) : f.kind === 'boolean' ? (
            <div className="field" key={f.key}><Checkbox label={f.label} checked={values[f.key] === true} onChange={(v) => set(f.key, v)} /></div>
          ) : (
            <Field key={`${type}-${f.key}`} label={f.label} value={(values[f.key] as string | undefined) ?? ''} onChange={(v) => set(f.key, v)} required={f.required} help={f.help} type={f.kind === 'number' ? 'number' : 'text'} />
          ),
        )}
      </div>
      <fieldset>
        <legend>Events it gets</legend>
        <p className="muted small">None ticked: failures and emergencies (backup failed, degraded or missing, verification failed, low or critical space, restore failed).</p>
        {CHOICES.map((k) => (
          <Checkbox key={k} label={k === 'failure' ? 'any failure' : eventLabel(k)} checked={on.has(k)} onChange={(v) => setOn((s) => { const n = new Set(s); if (v) n.add(k); else n.delete(k); return n; })} />
        ))}
      </fieldset>
      <ProblemMessage error={save.error} />
      <div className="dialog-actions">
        <button type="submit" className="primary" disabled={save.isPending}>{save.isPending ? 'Saving…' : existing ? 'Save changes' : 'Create channel'}</button>
      </div>
    </form>
  );
}
