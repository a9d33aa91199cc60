// Who is signed in, with which permissions: one query of GET /api/v1/session that every screen
// reads. A 401 anywhere (the session expired or was ended elsewhere) drops it and sends the user
// to the login page with a message.
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import { api, ApiError, onSignedOut, setCsrfToken, unwrap, type Schema } from './api/client.ts';

export type Session = Schema<'Session'>;

/** A permission name of the server's table (src/auth/permissions.ts), e.g. 'restore'. */
export type Permission = string;

interface SessionState {
  session: Session | undefined;
  /** Why the user is at the login page, when not by their own choice. */
  notice: string | undefined;
  /** Called after sign-in or setup with the answer the server gave. */
  signedIn(session: Session): void;
  signOut(): Promise<void>;
}

const SessionContext = createContext<SessionState | undefined>(undefined);

export const SESSION_KEY = ['session'] as const;

const ENDED = 'Your session ended (it expired, or was signed out elsewhere). Sign in again.';

export function SessionProvider({ children, fallback }: { children: ReactNode; fallback: ReactNode }) {
  const client = useQueryClient();
  const [notice, setNotice] = useState<string>();
  const query = useQuery({
    queryKey: SESSION_KEY,
    queryFn: async () => {
      try {
        return await unwrap(api.GET('/api/v1/session'));
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 401)) throw err;
        if (client.getQueryData(SESSION_KEY)) setNotice(ENDED);
        return null;
      }
    },
    // Coming back to the tab asks again: a session that ended meanwhile shows the login at once.
    staleTime: 60_000,
    refetchOnWindowFocus: 'always',
    retry: false,
  });
  const session = query.data ?? undefined;
  setCsrfToken(session?.csrfToken ?? undefined);

  useEffect(
    () =>
      onSignedOut(() => {
        if (!client.getQueryData(SESSION_KEY)) return;
        setNotice(ENDED);
        client.setQueryData(SESSION_KEY, null);
        client.removeQueries({ predicate: (q) => q.queryKey[0] !== SESSION_KEY[0] });
      }),
    [client],
  );

  if (query.isPending) return fallback;
  const state: SessionState = {
    session,
    notice,
    signedIn: (s) => {
      setNotice(undefined);
      setCsrfToken(s.csrfToken ?? undefined);
      client.setQueryData(SESSION_KEY, s);
    },
    signOut: async () => {
      await api.DELETE('/api/v1/session');
      setNotice('You are signed out.');
      setCsrfToken(undefined);
      client.setQueryData(SESSION_KEY, null);
      client.removeQueries({ predicate: (q) => q.queryKey[0] !== SESSION_KEY[0] });
    },
  };
  return <SessionContext.Provider value={state}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionState {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}

/** Whether the signed-in caller may do this: screens hide what the server would refuse. */
export function useCan(permission: Permission): boolean {
  return useSession().session?.permissions.includes(permission) ?? false;
}
