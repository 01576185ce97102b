import type { NewRole, Paging } from '../store.ts';

/* Small SQL helpers of the SQLite stores: parameters, IN-list chunks, ORDER BY, paging, role columns. */

/** SQLite allows 999+ parameters; stay well below for IN (...) lists. */
export const CHUNK = 500;

const SORT_COLUMN = /^[a-z_][a-z0-9_.]*$/i;

/** A role's column values in the order name, description, email, enabled, private, immutable, permissions, permission_set_id. */
export const roleValues = (role: NewRole): unknown[] => [
  role.name,
  role.description,
  role.email,
  role.enabled ? 1 : 0,
  role.private ? 1 : 0,
  role.immutable ? 1 : 0,
  JSON.stringify(role.permissions),
  role.permissionSetId.toLowerCase(),
];

/** SQLite has no boolean: a QueryString comparison with true/false binds 1/0. */
export const sqliteParam = (p: unknown): unknown => (typeof p === 'boolean' ? (p ? 1 : 0) : p);

export const isUniqueViolation = (e: unknown): boolean => typeof e === 'object' && e !== null && String((e as { code?: unknown }).code).startsWith('SQLITE_CONSTRAINT_UNIQUE');

export function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

export function orderBy(paging: Paging, fallback: string): string {
  // The sort column is trusted (code-defined), but check its shape anyway: it is spliced into SQL.
  const col = SORT_COLUMN.test(paging.sortColumn) ? paging.sortColumn : fallback;
  const dir = paging.ascending ? 'ASC' : 'DESC';
  // NOCASE only affects text: names sort as people expect (alpha, Beta, gamma).
  return col === 'id' ? `ORDER BY id ${dir}` : `ORDER BY ${col} COLLATE NOCASE ${dir}, id ${dir}`;
}

export const limits = (paging: Paging): [number, number] => [Math.max(0, Math.floor(paging.limit)), Math.max(0, Math.floor(paging.offset))];

export function parsePermissions(text: string): string[] {
  try {
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}
