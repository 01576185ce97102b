import type { FastifyRequest } from 'fastify';
import { CountersignError } from '../domain/errors.ts';
import { bindQuery, evaluateQuery, parseQuery, QueryError, resolveSort, type BoundAst, type FieldSpec } from '../domain/query/index.ts';
import type { Instance } from '../domain/types.ts';
import { instanceRow, type InstanceColumn } from '../store/instance-row.ts';
import type { InstanceQuery, ListQuery } from '../store/store.ts';
import { queryInt } from './wire.ts';

export const MAX_RETURN_LIMIT = 1000;

/** QueryString, PageReturned, ReturnLimit, SortField, SortAscending (0 ascending, 1 descending). */
export function listQuery(req: FastifyRequest, fields: FieldSpec[], defaultSort: string, defaultAscending = true): ListQuery {
  const q = req.q;
  const filter = bound(q.querystring, fields);
  const page = queryInt(q, 'PageReturned', 1, 1, 1_000_000);
  const limit = queryInt(q, 'ReturnLimit', 50, 1, MAX_RETURN_LIMIT);
  let sort: FieldSpec;
  try {
    sort = resolveSort(fields, q.sortfield, defaultSort);
  } catch (e) {
    throw asHttp(e);
  }
  const rawAsc = q.sortascending;
  const ascending = rawAsc === undefined || rawAsc === '' ? defaultAscending : sortAscending(rawAsc);
  return { filter, limit, offset: (page - 1) * limit, sortColumn: sort.column, ascending };
}

function sortAscending(raw: string): boolean {
  // Keyfactor's SortAscending is an enum where 0 means ascending and 1 descending; names too.
  const t = raw.trim().toLowerCase();
  if (t === '0' || t === 'ascending' || t === 'asc') return true;
  if (t === '1' || t === 'descending' || t === 'desc') return false;
  throw new CountersignError('ValidationFailed', `SortAscending must be 0 (ascending) or 1 (descending), not '${raw}'.`);
}

export function bound(queryString: string | undefined, fields: FieldSpec[]): BoundAst | null {
  try {
    return bindQuery(parseQuery(queryString ?? ''), fields);
  } catch (e) {
    throw asHttp(e);
  }
}

function asHttp(e: unknown): unknown {
  return e instanceof QueryError ? new CountersignError('InvalidQuery', e.message) : e;
}

/** Filter, sort and page an in-memory list the same way the stores do. */
export function listInMemory<T extends Record<string, unknown>>(items: T[], q: ListQuery, fields: FieldSpec[]): T[] {
  const key = fields.find((f) => f.column === q.sortColumn)?.column ?? q.sortColumn;
  const rows = items.filter((r) => evaluateQuery(q.filter, flatten(r)));
  rows.sort((a, b) => String(a[key] ?? '').localeCompare(String(b[key] ?? '')) * (q.ascending ? 1 : -1));
  return rows.slice(q.offset, q.offset + q.limit);
}

/** Lists are matched as text (SupportedWorkflowTypes -contains "Enrollment"). */
const flatten = (r: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]));

// Keyset paging (our extension, docs/compatibility.md) -------------------------------------------------

/** The response header carrying the cursor of a full page's last row; send it back as ContinueAfter. */
export const CONTINUE_HEADER = 'X-Countersign-Continue-After';

const MAX_CURSOR = 4096;

/**
 * An instance list's query: Keyfactor's parameters, plus `ContinueAfter` (a cursor from the
 * previous page's X-Countersign-Continue-After header), which starts the page right after that
 * row through the sort index instead of skipping PageReturned pages. The cursor is only valid
 * for the same sort field and direction.
 */
export function instanceListQuery(req: FastifyRequest, fields: FieldSpec[], defaultSort: string): InstanceQuery {
  const q = listQuery(req, fields, defaultSort);
  const raw = req.q.continueafter;
  if (raw === undefined || raw === '') return q;
  return { ...q, offset: 0, after: decodeCursor(raw, q) };
}

function decodeCursor(raw: string, q: ListQuery): { value: string | number | null; referenceId: number } {
  const bad = (why: string) =>
    new CountersignError('InvalidQuery', `ContinueAfter ${why}; use the X-Countersign-Continue-After header of the previous page, with the same SortField and SortAscending.`);
  let parsed: unknown;
  try {
    if (raw.length > MAX_CURSOR || !/^[A-Za-z0-9_-]+$/.test(raw)) throw new Error();
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw bad('is not a cursor');
  }
  if (!Array.isArray(parsed) || parsed.length !== 4) throw bad('is not a cursor');
  const [column, ascending, value, referenceId] = parsed as unknown[];
  if (column !== q.sortColumn || ascending !== (q.ascending ? 1 : 0)) throw bad('was made for another sort order');
  if (!(value === null || typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value)))) throw bad('is not a cursor');
  if (typeof referenceId !== 'number' || !Number.isSafeInteger(referenceId)) throw bad('is not a cursor');
  return { value, referenceId };
}

/** The cursor of the row a page ended with (its sort column's stored value and reference id). */
export function continueAfter(last: Instance, q: ListQuery): string {
  const value = instanceRow(last)[q.sortColumn as InstanceColumn] ?? null;
  return Buffer.from(JSON.stringify([q.sortColumn, q.ascending ? 1 : 0, value, last.referenceId])).toString('base64url');
}
