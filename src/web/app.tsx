import { QueryClient, QueryClientProvider, useQuery } from '@tanstack/react-query';
import { Route, Switch, useLocation } from 'wouter';
import { api, ApiError, unwrap } from './api/client.ts';
import { ScreenErrorBoundary } from './components/error-boundary.tsx';
import { EmptyState, Loading, Page } from './components/page.tsx';
import { Layout } from './layout.tsx';
import { screens as backups } from './pages/backups/index.ts';
import { screens as config } from './pages/config/index.ts';
import { LoginPage } from './pages/login.tsx';
import { screens as ops } from './pages/ops/index.ts';
import { SetupPage } from './pages/setup.tsx';
import type { Screen } from './screens.ts';
import { SessionProvider, useSession } from './session.tsx';

const screens: Screen[] = [...ops, ...backups, ...config];

const client = new QueryClient({
  defaultOptions: {
    queries: {
      // A refusal or a missing object will not change by asking again.
      retry: (count, err) => count < 2 && !(err instanceof ApiError && err.status >= 400 && err.status < 500),
      refetchOnWindowFocus: true,
      staleTime: 5_000,
    },
  },
});

export function App() {
  return (
    <QueryClientProvider client={client}>
      <SessionProvider fallback={<Loading />}>
        <Gate />
      </SessionProvider>
    </QueryClientProvider>
  );
}

/** Signed out: setup (while no admin exists) or login. Signed in: the screens. */
function Gate() {
  const { session } = useSession();
  const [location] = useLocation();
  const setup = useQuery({ queryKey: ['setup'], queryFn: () => unwrap(api.GET('/api/v1/setup')), enabled: !session, staleTime: Infinity });
  if (!session) {
    if (setup.isPending) return <Loading />;
    if (setup.data?.pending) return <SetupPage />;
    return <LoginPage />;
  }
  return (
    <Layout screens={screens}>
      <ScreenErrorBoundary key={location}>
      <Switch>
        {screens.map((s) => (
          <Route key={s.path} path={s.path} component={s.component} />
        ))}
        <Route>
          <Page title="Not found">
            <EmptyState title="There is no such page.">
              <a href="/">Go to the dashboard</a>
            </EmptyState>
          </Page>
        </Route>
      </Switch>
      </ScreenErrorBoundary>
    </Layout>
  );
}
