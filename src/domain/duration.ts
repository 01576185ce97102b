import type { Json } from './types.ts';

const ISO = /^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i;

/**
 * A duration as ISO-8601 ("PT4H", "P2D", "P1DT12H") or a whole number of minutes (as number or
 * text). Returns milliseconds; null for absent/empty; throws a readable Error for anything else.
 */
export function parseDuration(value: Json | undefined): number | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value === 'number' || (typeof value === 'string' && /^\s*\d+\s*$/.test(value))) {
    const minutes = Number(value);
    if (!Number.isInteger(minutes) || minutes <= 0) throw new Error('must be a positive number of minutes or an ISO-8601 duration such as PT4H');
    return minutes * 60_000;
  }
  const m = typeof value === 'string' ? ISO.exec(value.trim()) : null;
  if (!m || value === 'P' || /T$/i.test(String(value).trim())) throw new Error('must be a positive number of minutes or an ISO-8601 duration such as PT4H or P2D');
  const [w, d, h, min, s] = m.slice(1).map((x) => (x ? Number(x) : 0));
  const ms = ((((w * 7 + d) * 24 + h) * 60 + min) * 60 + s) * 1000;
  if (ms <= 0) throw new Error('must be longer than zero');
  return ms;
}

export const addMs = (iso: string, ms: number): string => new Date(new Date(iso).getTime() + ms).toISOString();

/** "2 days 4 hours" style text for messages. */
export function describeDuration(ms: number): string {
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [unit, size] of [
    ['day', 86400],
    ['hour', 3600],
    ['minute', 60],
    ['second', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n) parts.push(`${n} ${unit}${n === 1 ? '' : 's'}`);
  }
  return parts.slice(0, 2).join(' ') || '0 seconds';
}
