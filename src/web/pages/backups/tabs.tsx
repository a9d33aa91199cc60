// Tabs as the ARIA pattern has them: arrow keys move between tabs, the selected one is in the
// URL (?tab=) so a reload or a shared link opens the same tab.
import { useRef, type ReactNode } from 'react';
import { useSearchParams } from 'wouter';

export interface TabDef {
  id: string;
  label: ReactNode;
  render: () => ReactNode;
}

export function Tabs({ tabs, label }: { tabs: TabDef[]; label: string }) {
  const [params, setParams] = useSearchParams();
  const current = tabs.find((t) => t.id === params.get('tab')) ?? tabs[0]!;
  const refs = useRef<Record<string, HTMLButtonElement | null>>({});
  const select = (id: string, focus: boolean) => {
    setParams((p) => {
      const next = new URLSearchParams(p);
      next.set('tab', id);
      return next;
    }, { replace: true });
    if (focus) refs.current[id]?.focus();
  };
  return (
    <>
      <div className="tabs" role="tablist" aria-label={label}>
        {tabs.map((t, i) => (
          <button
            key={t.id}
            ref={(el) => {
              refs.current[t.id] = el;
            }}
            type="button"
            role="tab"
            id={`tab-${t.id}`}
            aria-selected={t.id === current.id}
            aria-controls={`panel-${t.id}`}
            tabIndex={t.id === current.id ? 0 : -1}
            onClick={() => select(t.id, false)}
            onKeyDown={(e) => {
              const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
              if (e.key === 'Home') select(tabs[0]!.id, true);
              else if (e.key === 'End') select(tabs.at(-1)!.id, true);
              else if (step) select(tabs[(i + step + tabs.length) % tabs.length]!.id, true);
            }}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${current.id}`} aria-labelledby={`tab-${current.id}`} tabIndex={0} className="tab-panel">
        {current.render()}
      </div>
    </>
  );
}
