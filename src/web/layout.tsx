import { useQuery } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { Link, useLocation } from 'wouter';
import { api, unwrap } from './api/client.ts';
import type { NavGroup, Screen } from './screens.ts';
import { useCan, useSession } from './session.tsx';
import { applyTheme, storedTheme, type ThemeChoice } from './theme.ts';

const GROUPS: NavGroup[] = ['Overview', 'Backups', 'Configuration', 'Admin'];

/** The frame around every signed-in screen: navigation, unread alerts, theme, the user. */
export function Layout({ screens, children }: { screens: Screen[]; children: ReactNode }) {
  const { session, signOut } = useSession();
  const [location] = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const canRead = useCan('read');
  const unread = useQuery({
    queryKey: ['events', 'unread'],
    queryFn: () => unwrap(api.GET('/api/v1/events/unread')),
    refetchInterval: 30_000,
    enabled: canRead,
  });
  const permissions = new Set(session?.permissions ?? []);
  const listed = screens.filter((s) => s.nav && (!s.nav.permission || permissions.has(s.nav.permission))).sort((a, b) => a.nav!.order - b.nav!.order);
  const count = (unread.data as { unread?: number } | undefined)?.unread ?? 0;
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <button type="button" className="icon menu-toggle" aria-expanded={menuOpen} aria-controls="nav" onClick={() => setMenuOpen(!menuOpen)}>
          <span aria-hidden="true">☰</span>
          <span className="sr-only">Menu</span>
        </button>
        <Link href="/" className="brand">
          Lifeboat
        </Link>
        <span className="spacer" />
        {canRead && (
          <Link href="/events" className="alerts">
            {/* The name read out starts with the text shown ("Alerts 3"), as axe's label-content-name-mismatch asks. */}
            Alerts{count > 0 && <> <span className="badge badge-bad">{count}</span></>}
            <span className="sr-only">{count > 0 ? ' unread' : ' (none unread)'}</span>
          </Link>
        )}
        <ThemeToggle />
        <Link href="/account" className="who" title={`signed in as ${session?.actor} (${session?.role}): your account`}>
          {session?.user} <span className="muted">({session?.role})</span>
        </Link>
        <button type="button" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <nav id="nav" className={menuOpen ? 'sidebar open' : 'sidebar'} aria-label="Main" onClick={() => setMenuOpen(false)}>
        {GROUPS.map((g) => {
          const items = listed.filter((s) => s.nav!.group === g);
          if (items.length === 0) return null;
          return (
            <div key={g} className="nav-group">
              <h2>{g}</h2>
              <ul>
                {items.map((s) => {
                  const current = s.path === '/' ? location === '/' : location === s.path || location.startsWith(`${s.path}/`);
                  return (
                    <li key={s.path}>
                      <Link href={s.path} aria-current={current ? 'page' : undefined}>
                        {s.nav!.label}
                      </Link>
                    </li>
                  );
                })}
              </ul>
            </div>
          );
        })}
      </nav>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}

function ThemeToggle() {
  const [theme, setTheme] = useState<ThemeChoice>(storedTheme);
  const next: Record<ThemeChoice, ThemeChoice> = { system: 'light', light: 'dark', dark: 'system' };
  return (
    <button
      type="button"
      className="theme-toggle"
      title="Theme: follows the system, light or dark"
      onClick={() => {
        applyTheme(next[theme]);
        setTheme(next[theme]);
      }}
    >
      Theme: {theme}
    </button>
  );
}
