import { Badge, type Tone } from '../../components/page.tsx';

const TONE: Record<string, Tone> = { running: 'info', succeeded: 'ok', failed: 'bad', cancelled: 'warn' };

export function JobState({ state }: { state: string }) {
  return <Badge tone={TONE[state] ?? 'neutral'}>{state}</Badge>;
}
