/*
 * Keyset paging: "the rows after this one" in a list ordered by (column, reference_id), where
 * both stores put NULLs first ascending and last descending. A row-value comparison is one index
 * range, so a deep page costs what a first page costs (offset paging reads every skipped row).
 */

/** Instance columns a list may sort by that are never NULL (no NULL branch, plain ASC/DESC on PostgreSQL). */
export const NOT_NULL_INSTANCE_COLUMNS = new Set(['id', 'reference_id', 'definition_id', 'status', 'start_date', 'last_modified']);

export interface KeysetClause {
  sql: string;
  params: unknown[];
}

/** `bind` returns a placeholder for a value compared with `column` (and may record the value). */
export function keysetClause(
  column: string,
  ascending: boolean,
  after: { value: string | number | null; referenceId: number },
  bind: (value: unknown, column: string) => string,
): KeysetClause {
  const params: unknown[] = [];
  const b = (v: unknown, c: string) => {
    params.push(v);
    return bind(v, c);
  };
  if (column === 'reference_id') return { sql: `reference_id ${ascending ? '>' : '<'} ${b(after.referenceId, 'reference_id')}`, params };
  const { value, referenceId } = after;
  if (NOT_NULL_INSTANCE_COLUMNS.has(column) && value !== null)
    return { sql: `(${column}, reference_id) ${ascending ? '>' : '<'} (${b(value, column)}, ${b(referenceId, 'reference_id')})`, params };
  let sql: string;
  if (ascending)
    // NULLs come first: after a NULL, the remaining NULLs by reference id, then every value.
    sql =
      value === null
        ? `((${column} IS NULL AND reference_id > ${b(referenceId, 'reference_id')}) OR ${column} IS NOT NULL)`
        : `(${column}, reference_id) > (${b(value, column)}, ${b(referenceId, 'reference_id')})`;
  // NULLs come last: after a value, smaller values, then every NULL; after a NULL, the rest of the NULLs.
  else
    sql =
      value === null
        ? `(${column} IS NULL AND reference_id < ${b(referenceId, 'reference_id')})`
        : `((${column}, reference_id) < (${b(value, column)}, ${b(referenceId, 'reference_id')}) OR ${column} IS NULL)`;
  return { sql, params };
}
