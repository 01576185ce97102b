import Database from 'better-sqlite3';
import fc from 'fast-check';
import { compileSql } from '../../src/store/query-sql.ts';
import { describe, expect, it } from 'vitest';
import { QueryError, bindQuery, evaluateQuery, parseQuery, printQuery } from '../../src/domain/query/index.ts';
import type { FieldSpec, Op, QueryAst } from '../../src/domain/query/index.ts';

const FIELDS: FieldSpec[] = [
  { name: 'Id', type: 'uuid', column: 'id' },
  { name: 'Title', type: 'string', column: 'title' },
  { name: 'ReferenceId', type: 'integer', column: 'reference_id', key: 'referenceId' },
  { name: 'Status', type: 'enum', column: 'status', enumValues: { Running: 1, Suspended: 2, Complete: 3 } },
  { name: 'StartDate', type: 'date', column: 'start_date' },
  { name: 'IsPublished', type: 'boolean', column: 'is_published' },
  { name: 'WorkflowType', type: 'string', column: 'workflow_type', aliases: ['Name'] },
];

const ALL_OPS: Op[] = ['eq', 'ne', 'contains', 'notcontains', 'startswith', 'endswith', 'lt', 'le', 'gt', 'ge'];
const TEXT_OPS: Op[] = ['eq', 'ne', 'contains', 'notcontains', 'startswith', 'endswith'];
const ORDER_OPS: Op[] = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'];

type Cmp = Extract<QueryAst, { kind: 'cmp' }>;
type Literal = { value: string | null; quoted: boolean };

/** Builds and/or trees over the given clause generator. */
function trees(cmp: fc.Arbitrary<QueryAst>, maxDepth = 6): fc.Arbitrary<QueryAst> {
  return fc.letrec<{ node: QueryAst; bin: QueryAst }>((tie) => ({
    node: fc.oneof({ maxDepth, depthSize: 'small' }, cmp, tie('bin')),
    bin: fc.record({ kind: fc.constantFrom('and' as const, 'or' as const), left: tie('node'), right: tie('node') }),
  })).node;
}

function stripPositions(ast: QueryAst | null): unknown {
  if (ast === null) return null;
  if (ast.kind !== 'cmp') return { kind: ast.kind, left: stripPositions(ast.left), right: stripPositions(ast.right) };
  const { kind, field, op, value, quoted } = ast;
  return { kind, field, op, value, quoted };
}

const clause = (field: string, op: Op, lit: Literal): Cmp => ({ kind: 'cmp', field, op, ...lit, position: 1 });

describe('printQuery / parseQuery round trip', () => {
  const isKeyword = (v: string) => ['null', 'and', 'or'].includes(v.toLowerCase());
  const bare = fc
    .string({ unit: fc.constantFrom(...'aZ09._-+:(%\\"\''.split('')), minLength: 1, maxLength: 8 })
    .filter((v) => !/^["']/.test(v) && !isKeyword(v))
    .map((value): Literal => ({ value, quoted: false }));
  const quoted = fc.string({ unit: 'binary', maxLength: 10 }).map((value): Literal => ({ value, quoted: true }));
  const literal = fc.oneof(fc.constant<Literal>({ value: null, quoted: false }), bare, quoted);
  const field = fc.constantFrom('Title', 'title', 'Id', 'ReferenceId', 'x_1', 'a.b', '_f');
  const cmp = fc.tuple(field, fc.constantFrom(...ALL_OPS), literal).map(([f, op, lit]) => clause(f, op, lit));

  it('parse(print(ast)) equals ast, positions aside', () => {
    fc.assert(
      fc.property(trees(cmp), (ast) => {
        const text = printQuery(ast);
        expect(stripPositions(parseQuery(text))).toEqual(stripPositions(ast));
        expect(printQuery(parseQuery(text))).toBe(text);
      }),
      { numRuns: 500 },
    );
  });
});

describe('differential: compileSql on SQLite vs evaluateQuery', () => {
  const textUnit = fc.constantFrom('a', 'A', 'b', 'B', '%', '_', '\\', 'é', 'É', ' ', '"');
  const text = fc.string({ unit: textUnit, maxLength: 4 });
  const GUIDS = [
    'aaaaaaaa-0000-0000-0000-000000000001',
    'AAAAAAAA-0000-0000-0000-000000000001',
    'bbbbbbbb-0000-0000-0000-00000000000b',
    'BbBbBbBb-0000-0000-0000-00000000000B',
    'cccccccc-1111-0000-0000-000000000003',
  ];
  const BASE = Date.parse('2024-01-02T00:00:00.000Z');
  // Half the instants sit within a millisecond of a UTC midnight, where day ranges can go wrong.
  const nearMidnight = fc.tuple(fc.integer({ min: -3, max: 3 }), fc.constantFrom(-1, 0, 1)).map(([d, ms]) => d * 86_400_000 + ms);
  const anyMinute = fc.tuple(fc.integer({ min: -3 * 1440, max: 3 * 1440 }), fc.constantFrom(0, 1, 59_999)).map(([m, ms]) => m * 60_000 + ms);
  const instant = fc.oneof(nearMidnight, anyMinute).map((offset) => new Date(BASE + offset).toISOString());

  const record = fc.record({
    Id: fc.option(fc.constantFrom(...GUIDS)),
    Title: fc.option(text),
    referenceId: fc.option(fc.integer({ min: -3, max: 3 })),
    Status: fc.option(fc.constantFrom(1, 2, 3)),
    StartDate: fc.option(instant),
    IsPublished: fc.option(fc.boolean()),
    WorkflowType: fc.option(text),
  });

  type Rec = typeof record extends fc.Arbitrary<infer T> ? T : never;
  const quotedLit = (a: fc.Arbitrary<string>) => a.map((value): Literal => ({ value, quoted: true }));
  const bareLit = (a: fc.Arbitrary<string>) => a.map((value): Literal => ({ value, quoted: false }));
  const NULL = fc.constant<Literal>({ value: null, quoted: false });
  const orNull = (a: fc.Arbitrary<Literal>) => fc.oneof({ weight: 1, arbitrary: NULL }, { weight: 4, arbitrary: a });
  const dateLiteral = fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: -4, max: 4 }).map((d) => new Date(BASE + d * 86_400_000).toISOString().slice(0, 10)) },
    instant,
    instant.map((iso) => iso.replace(/\.\d+Z$/, '')), // no offset: UTC
    instant.map((iso) => new Date(Date.parse(iso) + 3_600_000).toISOString().replace('Z', '+01:00')),
  );
  const literals: Record<string, fc.Arbitrary<Literal>> = {
    Title: orNull(quotedLit(text)),
    WorkflowType: orNull(quotedLit(text)),
    Id: orNull(bareLit(fc.constantFrom(...GUIDS))),
    IdPart: quotedLit(fc.string({ unit: fc.constantFrom('a', 'B', '-', '0', '1', '%', '_'), maxLength: 4 })),
    ReferenceId: orNull(bareLit(fc.integer({ min: -4, max: 4 }).map(String))),
    Status: orNull(bareLit(fc.constantFrom('1', '2', '3', 'running', 'SUSPENDED', 'Complete'))),
    StartDate: orNull(bareLit(dateLiteral)),
    IsPublished: orNull(bareLit(fc.constantFrom('true', 'FALSE'))),
  };
  const opsFor: Record<string, Op[]> = {
    Title: TEXT_OPS,
    WorkflowType: TEXT_OPS,
    Id: TEXT_OPS,
    ReferenceId: ORDER_OPS,
    Status: ['eq', 'ne'],
    StartDate: ORDER_OPS,
    IsPublished: ['eq', 'ne'],
  };
  // Id -eq/-ne need a whole GUID; the other Id operators take any fragment.
  const literalFor = (f: string, op: Op) => (f === 'Id' && op !== 'eq' && op !== 'ne' ? literals.IdPart! : literals[f]!);
  const cmp = fc.constantFrom(...Object.keys(opsFor)).chain((f) =>
    fc.constantFrom(...opsFor[f]!).chain((op) =>
      // NULL is only legal with -eq/-ne.
      literalFor(f, op).map((lit) => clause(f, lit.value === null && op !== 'ne' ? 'eq' : op, lit)),
    ),
  );

  const db = new Database(':memory:');
  db.exec(`CREATE TABLE t (n INTEGER, id TEXT, title TEXT, reference_id INTEGER, status INTEGER,
    start_date TEXT, is_published INTEGER, workflow_type TEXT)`);
  const insert = db.prepare('INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const load = db.transaction((rows: Rec[]) => {
    db.exec('DELETE FROM t');
    rows.forEach((r, n) => {
      const flag = r.IsPublished === null ? null : r.IsPublished ? 1 : 0;
      insert.run(n, r.Id, r.Title, r.referenceId, r.Status, r.StartDate, flag, r.WorkflowType);
    });
  });

  it('returns the same rows', () => {
    fc.assert(
      fc.property(fc.array(record, { maxLength: 12 }), trees(cmp, 4), (rows, ast) => {
        load(rows);
        // Going through the text also exercises printing, parsing and binding.
        const bound = bindQuery(parseQuery(printQuery(ast)), FIELDS);
        const { sql, params } = compileSql(bound, 'sqlite');
        const viaSql = (db.prepare(`SELECT n FROM t WHERE ${sql} ORDER BY n`).all(...params) as { n: number }[]).map((r) => r.n);
        const viaEval = rows.flatMap((r, n) => (evaluateQuery(bound, r) ? [n] : []));
        expect(viaEval).toEqual(viaSql);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('parseQuery on arbitrary input', () => {
  const TOKENS = [
    '(',
    ')',
    ' ',
    ' ',
    'AND',
    'or',
    'Title',
    'status',
    'StartDate',
    'Id',
    'ReferenceId',
    'IsPublished',
    '-eq',
    '-LT',
    '-contains',
    '-ne',
    '-x',
    '-',
    '"',
    "'",
    '\\',
    'NULL',
    '1',
    '1.5',
    '2024-01-01',
    '2024-02-30',
    'true',
    'x',
    '"a b"',
    "'q'",
    '\t',
    'Running',
    'aaaaaaaa-0000-0000-0000-000000000001',
  ];
  const soup = fc.array(fc.constantFrom(...TOKENS), { maxLength: 20 }).map((t) => t.join(''));
  const db = new Database(':memory:');
  db.exec(`CREATE TABLE t (id TEXT, title TEXT, reference_id INTEGER, status INTEGER,
    start_date TEXT, is_published INTEGER, workflow_type TEXT)`);

  /** Only QueryError may escape, with a position inside the text; whatever binds must run as SQL. */
  function check(input: string): void {
    try {
      const bound = bindQuery(parseQuery(input), FIELDS);
      const { sql, params } = compileSql(bound, 'sqlite');
      db.prepare(`SELECT * FROM t WHERE ${sql}`).all(...params);
      evaluateQuery(bound, {});
    } catch (e) {
      if (!(e instanceof QueryError)) throw e;
      expect(e.position).toBeGreaterThanOrEqual(1);
      expect(e.position).toBeLessThanOrEqual(input.length + 1);
      expect(e.message).toContain(`at position ${e.position}`);
    }
  }

  it('throws nothing but QueryError on arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 60 }), check), { numRuns: 1000 });
  });

  it('throws nothing but QueryError on token soup', () => {
    fc.assert(fc.property(soup, check), { numRuns: 3000 });
  });

  it('survives deep nesting and long chains', () => {
    check('('.repeat(10_000));
    check(`${'('.repeat(64)}Title -eq x${')'.repeat(64)}`);
    check(Array.from({ length: 500 }, () => 'Title -eq x').join(' AND '));
  });
});
