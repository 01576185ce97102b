import { QueryError } from './ast.ts';
import type { BoundAst, BoundCmp, CmpAst, FieldSpec, FieldType, Op, QueryAst } from './ast.ts';

const TEXT_OPS: readonly Op[] = ['eq', 'ne', 'contains', 'notcontains', 'startswith', 'endswith'];
const ORDER_OPS: readonly Op[] = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'];
const EQ_OPS: readonly Op[] = ['eq', 'ne'];

const ALLOWED_OPS: Record<FieldType, readonly Op[]> = {
  string: TEXT_OPS,
  uuid: TEXT_OPS,
  enum: EQ_OPS,
  integer: ORDER_OPS,
  date: ORDER_OPS,
  boolean: EQ_OPS,
};

const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INT_RE = /^[+-]?\d+$/;
const DATE_ONLY_RE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME_RE = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?([Zz]|[+-]\d{2}:?\d{2})?$/;
const DAY_MS = 86_400_000;

/**
 * SQLite's LOWER() folds only ASCII letters; evaluate() and the binder use the same folding so
 * in-memory filtering agrees with SQL row for row.
 */
export function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

export function bindQuery(ast: QueryAst | null, fields: FieldSpec[]): BoundAst | null {
  return ast === null ? null : bindNode(ast, fields);
}

function bindNode(ast: QueryAst, fields: FieldSpec[]): BoundAst {
  if (ast.kind === 'cmp') return bindCmp(ast, fields);
  return { kind: ast.kind, left: bindNode(ast.left, fields), right: bindNode(ast.right, fields) };
}

function findField(fields: FieldSpec[], name: string): FieldSpec | undefined {
  const lower = name.toLowerCase();
  return fields.find((f) => f.name.toLowerCase() === lower || f.aliases?.some((a) => a.toLowerCase() === lower));
}

const fieldList = (fields: FieldSpec[]): string => fields.map((f) => f.name).join(', ');

function bindCmp(ast: CmpAst, fields: FieldSpec[]): BoundCmp {
  const field = findField(fields, ast.field);
  if (!field) {
    fail(`Unknown field "${ast.field}"`, ast.position, `; fields: ${fieldList(fields)}`);
  }
  const allowed = ALLOWED_OPS[field.type];
  if (!allowed.includes(ast.op)) {
    const ops = allowed.map((o) => `-${o}`).join(', ');
    fail(`Operator -${ast.op} cannot be used with field "${field.name}"`, ast.opPosition ?? ast.position, `; use ${ops}`);
  }
  const valuePos = ast.valuePosition ?? ast.position;
  if (ast.value === null) {
    if (!EQ_OPS.includes(ast.op)) fail('NULL can only be used with -eq or -ne', valuePos);
    return { kind: 'cmp', field, op: ast.op, value: null };
  }
  return { kind: 'cmp', field, op: ast.op, ...bindValue(field, ast.op, ast.value, valuePos) };
}

type BoundValue = { value: string | number | boolean; dayRange?: [string, string] };

function bindValue(field: FieldSpec, op: Op, raw: string, pos: number): BoundValue {
  const bad = (what: string, hint = ''): never => fail(`Invalid ${what} "${raw}" for field "${field.name}"`, pos, hint);
  switch (field.type) {
    case 'string':
      return { value: raw };
    case 'uuid':
      // Partial GUIDs are fine for -contains etc.; equality needs a whole one.
      if (EQ_OPS.includes(op) && !GUID_RE.test(raw)) bad('GUID');
      return { value: asciiLower(raw) };
    case 'integer':
      return { value: parseInteger(raw) ?? bad('integer') };
    case 'boolean':
      return { value: parseBoolean(raw) ?? bad('boolean', '; use true or false') };
    case 'enum':
      return { value: parseEnum(field, raw) ?? bad('value', `; values: ${enumList(field)}`) };
    case 'date':
      return bindDate(raw) ?? bad('date', '; use ISO-8601 such as 2024-01-31 or 2024-01-31T12:00:00Z');
  }
}

function parseInteger(raw: string): number | undefined {
  const n = Number(raw);
  return INT_RE.test(raw) && Number.isSafeInteger(n) ? n : undefined;
}

function parseBoolean(raw: string): boolean | undefined {
  const lower = raw.toLowerCase();
  return lower === 'true' ? true : lower === 'false' ? false : undefined;
}

function parseEnum(field: FieldSpec, raw: string): number | undefined {
  const values = field.enumValues ?? {};
  const n = parseInteger(raw);
  if (n !== undefined) return Object.values(values).includes(n) ? n : undefined;
  const lower = raw.toLowerCase();
  return Object.entries(values).find(([name]) => name.toLowerCase() === lower)?.[1];
}

const enumList = (field: FieldSpec): string =>
  Object.entries(field.enumValues ?? {})
    .map(([name, n]) => `${name} (${n})`)
    .join(', ');

/** A date-only literal stands for its whole UTC day, whatever the operator. */
function bindDate(raw: string): BoundValue | undefined {
  if (DATE_ONLY_RE.test(raw)) {
    const start = utcMidnight(raw);
    if (start === undefined) return undefined;
    const end = new Date(Date.parse(start) + DAY_MS).toISOString();
    return { value: start, dayRange: [start, end] };
  }
  const iso = parseIsoDateTime(raw);
  return iso === undefined ? undefined : { value: iso };
}

/** Rejects impossible days (2024-02-30) that Date would silently roll over. */
function utcMidnight(day: string): string | undefined {
  const d = new Date(`${day}T00:00:00.000Z`);
  if (Number.isNaN(d.getTime())) return undefined;
  const iso = d.toISOString();
  return iso.slice(0, 10) === day ? iso : undefined;
}

/**
 * ISO-8601 date-time to canonical UTC text. A missing offset means UTC, never the server's
 * local zone, so results do not depend on where the engine runs.
 */
export function parseIsoDateTime(raw: string): string | undefined {
  const m = DATE_TIME_RE.exec(raw);
  if (!m) return undefined;
  const [, day, hh, mm, ss = '00', frac = '', zone = 'Z'] = m;
  if (utcMidnight(day!) === undefined || +hh! > 23 || +mm! > 59 || +ss > 59) return undefined;
  const ms = frac.padEnd(3, '0').slice(0, 3);
  const offset = zone.toUpperCase() === 'Z' ? 'Z' : zone.replace(/^([+-]\d{2}):?(\d{2})$/, '$1:$2');
  if (offset !== 'Z' && (+offset.slice(1, 3) > 23 || +offset.slice(4) > 59)) return undefined;
  const d = new Date(`${day}T${hh}:${mm}:${ss}.${ms}${offset}`);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** Normalizes an ISO date or date-time to canonical UTC text, or undefined if it is neither. */
export function normalizeIsoDate(raw: string): string | undefined {
  return DATE_ONLY_RE.test(raw) ? utcMidnight(raw) : parseIsoDateTime(raw);
}

export function resolveSort(fields: FieldSpec[], sortField: string | undefined, defaultField: string): FieldSpec {
  const wanted = sortField?.trim() ? sortField.trim() : defaultField;
  const field = findField(fields, wanted);
  if (field) return field;
  throw new QueryError(`Invalid sort field: ${wanted}. Sortable fields: ${fieldList(fields)}`, 0);
}

function fail(message: string, position: number, hint = ''): never {
  throw new QueryError(`${message} at position ${position}${hint}`, position);
}
