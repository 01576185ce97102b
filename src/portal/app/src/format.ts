import type { Json } from './api.ts';

export const STATUS = ['Unknown', 'Running', 'Suspended', 'Complete', 'Rejected', 'Failed', 'Canceled for restart'] as const;
export const statusName = (n: number): string => STATUS[n] ?? `Status ${n}`;
export const isTerminalStatus = (n: number): boolean => n >= 3 && n <= 6;

/** "5 min", "3 h", "2 days": how long ago, for lists. */
export function age(iso: string, now: number = Date.now()): string {
  const ms = now - Date.parse(iso);
  if (!Number.isFinite(ms)) return '';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return 'just now';
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h`;
  return `${Math.floor(h / 24)} days`;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
export function when(iso: string | null | undefined): string {
  if (!iso) return '';
  const t = Date.parse(iso);
  return Number.isFinite(t) ? dateTime.format(new Date(t)) : iso;
}

/** Data values as text: strings as they are, everything else as JSON. */
export function show(v: Json | undefined): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v, null, 2);
}

/** Counted as the server counts (code points), so emoji count once. */
export const charCount = (s: string): number => [...s].length;
export const COMMENT_MAX = 500;

/** What to announce as the limit nears: a few steps, not every keystroke. */
export function limitAnnouncement(length: number, max = COMMENT_MAX): string {
  const left = max - length;
  if (left < 0) return `Over the ${max}-character limit.`;
  if (left === 0) return `Limit of ${max} characters reached.`;
  for (const t of [10, 25, 50]) if (left <= t) return `At most ${t} characters left.`;
  return '';
}
