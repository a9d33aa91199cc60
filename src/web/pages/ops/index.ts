import type { Screen } from '../../screens.ts';
import { DashboardPage } from './dashboard.tsx';
import { EventsPage } from './events.tsx';
import { JobDetailPage } from './job-detail.tsx';
import { JobsPage } from './jobs.tsx';
import { RetentionPage } from './retention.tsx';
import { SchedulesPage } from './schedules.tsx';
import { VerificationPage } from './verification.tsx';
import './ops.css';

/** The dashboard, jobs, schedules, retention and verification, events. */
export const screens: Screen[] = [
  { path: '/', component: DashboardPage, nav: { label: 'Dashboard', group: 'Overview', order: 0 } },
  { path: '/jobs', component: JobsPage, nav: { label: 'Jobs', group: 'Overview', order: 20 } },
  { path: '/jobs/:id', component: JobDetailPage },
  { path: '/events', component: EventsPage, nav: { label: 'Events', group: 'Overview', order: 30 } },
  { path: '/schedules', component: SchedulesPage, nav: { label: 'Schedules', group: 'Configuration', order: 40 } },
  { path: '/retention', component: RetentionPage, nav: { label: 'Retention', group: 'Configuration', order: 41 } },
  { path: '/verification', component: VerificationPage, nav: { label: 'Verification', group: 'Configuration', order: 42 } },
];
