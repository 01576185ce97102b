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
export function compileSql(bound: BoundAst | null, dialect: Dialect, firstParam = 1): { sql: string; params: unknown[] } {
  const c = new SqlCompiler(dialect, firstParam);
  const sql = bound === null ? (dialect === 'postgres' ? 'TRUE' : '1=1') : c.node(bound);
  return { sql, params: c.params };
}

class SqlCompiler {
  readonly params: unknown[] = [];
  constructor(
    readonly dialect: Dialect,
    readonly firstParam: number,
  ) {}

  /** `cast` is only applied for postgres, where untyped parameters can be ambiguous. */
  param(value: unknown, cast?: 'text' | 'timestamptz'): string {
    this.params.push(value);
    if (this.dialect === 'sqlite') return '?';
    const n = `$${this.firstParam + this.params.length - 1}`;
    return cast ? `${n}::${cast}` : n;
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
    if (like) return `LOWER(${col}) LIKE LOWER(${this.param(like(escapeLike(String(b.value))), 'text')}) ESCAPE '\\'`;
    switch (b.field.type) {
      case 'string':
        return `LOWER(${col}) = LOWER(${this.param(b.value, 'text')})`;
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
