import type { FastifyRequest } from 'fastify';
import { CountersignError } from '../domain/errors.ts';
import { bindQuery, evaluateQuery, parseQuery, QueryError, resolveSort, type BoundAst, type FieldSpec } from '../domain/query/index.ts';
import type { ListQuery } from '../store/store.ts';
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
