import type { BoundAst, BoundCmp, FieldSpec, Op } from './ast.ts';
import { asciiLower, normalizeIsoDate } from './bind.ts';

type Scalar = string | number | boolean;

/** In-memory twin of compileSql(..., 'sqlite'): same rows, including NULL handling and ASCII-only case folding. */
export function evaluateQuery(bound: BoundAst | null, record: Record<string, unknown>): boolean {
  if (bound === null) return true;
  if (bound.kind !== 'cmp') {
    const left = evaluateQuery(bound.left, record);
    return bound.kind === 'and' ? left && evaluateQuery(bound.right, record) : left || evaluateQuery(bound.right, record);
  }
  return evaluateCmp(bound, readField(bound.field, record));
}

function evaluateCmp(b: BoundCmp, v: Scalar | null): boolean {
  if (b.value === null) return b.op === 'eq' ? v === null : v !== null;
  const negated = b.op === 'ne' || b.op === 'notcontains';
  // SQL: `(col IS NULL OR NOT (...))` for negated ops, plain comparison (NULL -> false) otherwise.
  if (v === null) return negated;
  const op: Op = b.op === 'ne' ? 'eq' : b.op === 'notcontains' ? 'contains' : b.op;
  return positive(b, op, v) !== negated;
}

function positive(b: BoundCmp, op: Op, v: Scalar): boolean {
  switch (b.field.type) {
    case 'string':
    case 'uuid':
      return textTest(op, asciiLower(String(v)), asciiLower(String(b.value)));
    case 'date':
      return b.dayRange ? dayTest(op, String(v), b.dayRange) : order(op, String(v), String(b.value));
    default:
      return order(op, v, b.value as Scalar);
  }
}

function textTest(op: Op, s: string, t: string): boolean {
  switch (op) {
    case 'contains':
      return s.includes(t);
    case 'startswith':
      return s.startsWith(t);
    case 'endswith':
      return s.endsWith(t);
    default:
      return s === t;
  }
}

function dayTest(op: Op, s: string, [start, end]: [string, string]): boolean {
  switch (op) {
    case 'eq':
      return s >= start && s < end;
    case 'lt':
      return s < start;
    case 'le':
      return s < end;
    case 'gt':
      return s >= end;
    default:
      return s >= start;
  }
}

function order(op: Op, a: Scalar, b: Scalar): boolean {
  switch (op) {
    case 'lt':
      return a < b;
    case 'le':
      return a <= b;
    case 'gt':
      return a > b;
    case 'ge':
      return a >= b;
    default:
      return a === b;
  }
}

/** Coerces the record's value the way the SQL column would store it. */
function readField(field: FieldSpec, record: Record<string, unknown>): Scalar | null {
  const v = record[field.key ?? field.name];
  if (v === null || v === undefined) return null;
  switch (field.type) {
    case 'boolean':
      return v === true || v === 1 || v === '1' || (typeof v === 'string' && v.toLowerCase() === 'true');
    case 'integer':
    case 'enum':
      return typeof v === 'number' ? v : Number(v);
    case 'date':
      return v instanceof Date ? v.toISOString() : (normalizeIsoDate(String(v)) ?? String(v));
    default:
      return String(v);
  }
}
