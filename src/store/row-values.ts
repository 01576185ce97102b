/*
 * Column values as the two drivers hand them back: better-sqlite3 gives text, numbers and 0/1
 * where pg gives Date, parsed jsonb, bigint-as-string and booleans. The shared row mappers read
 * every column through these, so one mapper serves both stores.
 */

export type Row = Record<string, any>;

/** A timestamp column as ISO text (pg parses timestamptz into a Date; SQLite stores the text). */
export const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : String(v));

/** A JSON column: text on SQLite (and in pg text columns), already parsed from pg jsonb. */
export const json = <T = any>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;

/** A nullable integer column (pg returns bigint as text). */
export const nullableNumber = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** A boolean column: SQLite stores 0/1. */
export const bool = (v: unknown): boolean => v === true || v === 1;
