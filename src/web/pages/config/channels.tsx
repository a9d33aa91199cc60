// Notification channels: where each posts, a test that sends a real notification and shows the
// outcome, and which events reach which channel as the config routes them.
import { useState } from 'react';
import { Dialog } from '../../components/dialog.tsx';
import { Badge, EmptyState, Loading, Page } from '../../components/page.tsx';
import { ProblemMessage } from '../../components/problem.tsx';
import { useCan } from '../../session.tsx';
import { ChannelForm } from './channel-form.tsx';
import { EMERGENCY_EVENTS, eventLabel, EVENT_KINDS, eventsOf } from './events.ts';
import { RemoveButton, SourceBadge, SourceNote, TestButton } from './object-parts.tsx';
import { SET, str, useObjects, type ConfigObject } from './objects.ts';
import { TableWrap } from './table.tsx';
import './config.css';

/** Where a channel posts, without its secrets (a chat webhook URL is one: it reads "set"). */
function destination(c: Record<string, unknown>): string {
  switch (c.type) {
    case 'webhook': case 'ntfy': case 'gotify': return str(c.url);
    case 'telegram': return `chat ${str(c.chatId)}`;
    case 'email': return `${Array.isArray(c.to) ? c.to.join(', ') : ''} via ${str(c.host)}`;
    default: return c.webhookUrl === SET ? 'webhook URL set' : '';
  }
}

export function ChannelsPage() {
  const list = useObjects('channel');
  const canWrite = useCan('config.write');
  const canTest = useCan('channels.test');
  const [editing, setEditing] = useState<ConfigObject | 'new'>();
  const active = (list.data ?? []).filter((c) => !c.shadowed && !c.problem);
  return (
    <Page title="Notifications" actions={canWrite && <button type="button" className="primary" onClick={() => setEditing('new')}>Add channel</button>}>
      <ProblemMessage error={list.error} />
      {list.isPending && <Loading what="channels" />}
      {list.data?.length === 0 && (
        <EmptyState title="No notification channel: failures reach nobody.">
          {canWrite ? <p>Add a channel (a webhook, Slack, Discord, Teams, Telegram, ntfy, Gotify or email) and send it a test.</p> : <p>An admin adds channels here or in lifeboat.yaml.</p>}
        </EmptyState>
      )}
      <div className="cards">
        {list.data?.map((c) => (
          <article key={`${c.source}-${c.name}`} className="card" aria-labelledby={`channel-${c.source}-${c.name}`}>
            <header className="page-head">
              <h2 id={`channel-${c.source}-${c.name}`}>{c.name}</h2>
              <span><Badge tone="neutral">{str(c.config.type)}</Badge> {c.config.emergency === true && <Badge tone="warn">emergency</Badge>} <SourceBadge object={c} /></span>
            </header>
            <p className="muted small"><code>{destination(c.config)}</code></p>
            <p className="small">Gets: {[...eventsOf(c.config)].map(eventLabel).join(', ')}</p>
            <SourceNote object={c} />
            <div className="row-actions">
              {canTest && !c.shadowed && !c.problem && <TestButton kind="channel" name={c.name} />}
              {canWrite && c.source === 'api' && (
                <>
                  <button type="button" onClick={() => setEditing(c)} aria-label={`Edit channel ${c.name}`}>Edit</button>
                  <RemoveButton kind="channel" name={c.name} />
                </>
              )}
            </div>
          </article>
        ))}
      </div>
      {active.length > 0 && (
        <section className="section" aria-labelledby="routing">
          <h2 id="routing">Routing by event</h2>
          <TableWrap label="routing by event">
            <table>
              <thead><tr><th>Event</th><th>Goes to</th></tr></thead>
              <tbody>
                {EVENT_KINDS.map((e) => {
                  const to = active.filter((c) => eventsOf(c.config).has(e)).map((c) => c.name);
                  return (
                    <tr key={e}>
                      <td>{eventLabel(e)}{EMERGENCY_EVENTS.includes(e) && <> <Badge tone="warn" title="always reaches emergency channels">emergency</Badge></>}</td>
                      <td>{to.length ? to.join(', ') : <span className="muted">nobody</span>}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </TableWrap>
        </section>
      )}
      <Dialog open={!!editing} title={editing === 'new' ? 'Add a channel' : `Edit channel ${editing?.name ?? ''}`} onClose={() => setEditing(undefined)} wide>
        {editing && <ChannelForm existing={editing === 'new' ? undefined : editing} onSaved={() => setEditing(undefined)} />}
      </Dialog>
    </Page>
  );
}
