import type { BoundAst, BoundCmp, Op } from '../domain/query/ast.ts';

export type Dialect = 'sqlite' | 'postgres';

const LIKE_PATTERN: Partial<Record<Op, (v: string) => string>> = {
  contains: (v) => `%${v}%`,
  notcontains: (v) => `%${v}%`,
  startswith: (v) => `${v}%`,
  endswith: (v) => `%${v}`,
};

const ORDER_SQL: Partial<Record<Op, string>> = { eq: '=', lt: '<', le: '<=', gt: '>', ge: '>=' };

/** Makes the value match itself literally inside LIKE ... ESCAPE '\'. */
export const escapeLike = (v: string): string => v.replace(/[\\%_]/g, '\\$&');

/**
 * Values only ever travel as parameters; column names come from FieldSpec.column (trusted).
 * Every and/or node is parenthesized so the text never depends on SQL precedence.
 */
export function compileSql(bound: BoundAst | null, dialect: Dialect, firstParam = 1, textIndex?: TextIndex): { sql: string; params: unknown[]; usedTextIndex: boolean } {
  const c = new SqlCompiler(dialect, firstParam, textIndex);
  const sql = bound === null ? (dialect === 'postgres' ? 'TRUE' : '1=1') : c.node(bound);
  return { sql, params: c.params, usedTextIndex: c.usedTextIndex };
}

/**
 * A trigram index that can narrow `-contains` on some columns (SQLite FTS5): `filter` returns a
 * clause true for at least every row whose column contains the pattern's text, case-insensitively.
 * The exact LIKE test is kept beside it, so answers do not change; only the rows read do.
 */
export interface TextIndex {
  columns: ReadonlySet<string>;
  filter(column: string, patternParam: string): string;
}

/** Trigram look-ups need three characters, and take no LIKE escapes. */
const indexable = (v: string): boolean => [...v].length >= 3 && !/[\\%_]/.test(v);

class SqlCompiler {
  readonly params: unknown[] = [];
  /** Whether some `-contains` went through the text index (the store then weighs other plans). */
  usedTextIndex = false;
  constructor(
    readonly dialect: Dialect,
    readonly firstParam: number,
    readonly textIndex?: TextIndex,
  ) {}

  /** `cast` is only applied for postgres, where untyped parameters can be ambiguous. */
  param(value: unknown, cast?: 'text' | 'timestamptz'): string {
    this.params.push(value);
    if (this.dialect === 'sqlite') return '?';
    const n = `$${this.firstParam + this.params.length - 1}`;
    return cast ? `${n}::${cast}` : n;
  }

  /**
   * Case-insensitive means ASCII case-insensitive, as SQLite's LOWER is: on PostgreSQL both sides
   * fold under the "C" collation, whatever the column's and the parameter's collations (a column
   * in "C" and a parameter in the database's locale folded É on one side only).
   */
  lower(sql: string): string {
    return this.dialect === 'postgres' ? `LOWER(${sql} COLLATE "C")` : `LOWER(${sql})`;
  }

  node(b: BoundAst): string {
    if (b.kind === 'cmp') return this.cmp(b);
    return `(${this.node(b.left)} ${b.kind === 'and' ? 'AND' : 'OR'} ${this.node(b.right)})`;
  }

  cmp(b: BoundCmp): string {
    const col = b.field.column;
    if (b.value === null) return b.op === 'eq' ? `${col} IS NULL` : `${col} IS NOT NULL`;
    // A NULL column differs from every value, as evaluate() says too.
    if (b.op === 'ne' || b.op === 'notcontains') return `(${col} IS NULL OR NOT (${this.positive(b)}))`;
    return this.positive(b);
  }

  /** The test for eq/contains/...; ne and notcontains are its negation. */
  positive(b: BoundCmp): string {
    const col = b.field.column;
    const op: Op = b.op === 'ne' ? 'eq' : b.op === 'notcontains' ? 'contains' : b.op;
    const like = LIKE_PATTERN[op];
    if (like) {
      const v = String(b.value);
      // The pre-filter's parameter first: SQLite's `?` placeholders bind in text order.
      const pre = op === 'contains' && this.textIndex?.columns.has(col) && indexable(v) ? `${this.textIndex.filter(col, this.param(`%${v}%`, 'text'))} AND ` : '';
      const exact = `${this.lower(col)} LIKE ${this.lower(this.param(like(escapeLike(v)), 'text'))} ESCAPE '\\'`;
      if (pre) this.usedTextIndex = true;
      return pre ? `(${pre}${exact})` : exact;
    }
    switch (b.field.type) {
      case 'string':
        return `${this.lower(col)} = ${this.lower(this.param(b.value, 'text'))}`;
      case 'uuid':
        return `LOWER(${col}) = ${this.param(b.value, 'text')}`;
      case 'boolean':
        return `${col} = ${this.param(this.dialect === 'sqlite' ? (b.value ? 1 : 0) : b.value)}`;
      case 'date':
        return this.date(b, op);
      default:
        return `${col} ${ORDER_SQL[op]} ${this.param(b.value)}`;
    }
  }

  /** A whole-day literal turns each operator into a comparison with the day's bounds. */
  date(b: BoundCmp, op: Op): string {
    const col = b.field.column;
    const p = (v: unknown): string => this.param(v, 'timestamptz');
    if (!b.dayRange) return `${col} ${ORDER_SQL[op]} ${p(b.value)}`;
    const [start, end] = b.dayRange;
    switch (op) {
      case 'eq':
        return `(${col} >= ${p(start)} AND ${col} < ${p(end)})`;
      case 'lt':
        return `${col} < ${p(start)}`;
      case 'le':
        return `${col} < ${p(end)}`;
      case 'gt':
        return `${col} >= ${p(end)}`;
      default:
        return `${col} >= ${p(start)}`;
    }
  }
}
