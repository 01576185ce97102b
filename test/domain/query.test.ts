import Database from 'better-sqlite3';
import { compileSql } from '../../src/store/query-sql.ts';
import { describe, expect, it } from 'vitest';
import { QueryError, bindQuery, evaluateQuery, parseQuery, printQuery, resolveSort } from '../../src/domain/query/index.ts';
import type { FieldSpec, QueryAst } from '../../src/domain/query/index.ts';

const FIELDS: FieldSpec[] = [
  { name: 'Id', type: 'uuid', column: 'id' },
  { name: 'Title', type: 'string', column: 'title' },
  { name: 'ReferenceId', type: 'integer', column: 'reference_id', key: 'referenceId' },
  { name: 'Status', type: 'enum', column: 'status', enumValues: { Running: 1, Suspended: 2, Complete: 3 } },
  { name: 'StartDate', type: 'date', column: 'start_date' },
  { name: 'IsPublished', type: 'boolean', column: 'is_published' },
  { name: 'WorkflowType', type: 'string', column: 'workflow_type', aliases: ['Name'] },
];

type Row = {
  n: string;
  Id: string | null;
  Title: string | null;
  referenceId: number | null;
  Status: number | null;
  StartDate: string | null;
  IsPublished: boolean | null;
  WorkflowType: string | null;
};

const ROWS: Row[] = [
  {
    n: 'a',
    Id: 'AAAAAAAA-0000-0000-0000-000000000001',
    Title: 'Web Server Cert',
    referenceId: 1,
    Status: 1,
    StartDate: '2024-01-01T00:00:00.000Z',
    IsPublished: true,
    WorkflowType: 'Enrollment',
  },
  {
    n: 'b',
    Id: 'bbbbbbbb-0000-0000-0000-000000000002',
    Title: 'web_server 100%',
    referenceId: 2,
    Status: 2,
    StartDate: '2024-01-01T23:59:59.999Z',
    IsPublished: false,
    WorkflowType: 'Revocation',
  },
  {
    n: 'c',
    Id: 'cccccccc-0000-0000-0000-000000000003',
    Title: 'DOMAIN\\user "quoted"',
    referenceId: 3,
    Status: 3,
    StartDate: '2024-01-02T00:00:00.000Z',
    IsPublished: true,
    WorkflowType: 'enrollment',
  },
  { n: 'd', Id: null, Title: null, referenceId: null, Status: null, StartDate: null, IsPublished: null, WorkflowType: null },
  {
    n: 'e',
    Id: 'eeeeeeee-0000-0000-0000-000000000005',
    Title: '',
    referenceId: -5,
    Status: 1,
    StartDate: '2023-12-31T23:59:59.999Z',
    IsPublished: false,
    WorkflowType: 'Expiration',
  },
];

const db = new Database(':memory:');
db.exec(`CREATE TABLE t (n TEXT, id TEXT, title TEXT, reference_id INTEGER, status INTEGER,
  start_date TEXT, is_published INTEGER, workflow_type TEXT)`);
const insert = db.prepare('INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
for (const r of ROWS) {
  const flag = r.IsPublished === null ? null : r.IsPublished ? 1 : 0;
  insert.run(r.n, r.Id, r.Title, r.referenceId, r.Status, r.StartDate, flag, r.WorkflowType);
}

type Bin = Extract<QueryAst, { left: unknown }>;

/** Rows matched by the query, checking that SQL and evaluate() agree. */
function match(query: string): string {
  const bound = bindQuery(parseQuery(query), FIELDS);
  const { sql, params } = compileSql(bound, 'sqlite');
  const viaSql = (db.prepare(`SELECT n FROM t WHERE ${sql} ORDER BY n`).all(...params) as { n: string }[]).map((r) => r.n).join('');
  const viaEval = ROWS.filter((r) => evaluateQuery(bound, r))
    .map((r) => r.n)
    .join('');
  expect(viaEval, `evaluate vs SQL for ${query}: ${sql}`).toBe(viaSql);
  return viaSql;
}

/** The QueryError a query produces (parse + bind). */
function error(query: string): QueryError {
  try {
    bindQuery(parseQuery(query), FIELDS);
  } catch (e) {
    expect(e).toBeInstanceOf(QueryError);
    return e as QueryError;
  }
  throw new Error(`expected ${query} to fail`);
}

describe('parseQuery', () => {
  it('returns null for empty or blank input', () => {
    expect(parseQuery('')).toBeNull();
    expect(parseQuery('  \t\n')).toBeNull();
    expect(match('')).toBe('abcde');
  });

  it('parses a clause with positions', () => {
    expect(parseQuery('Title -eq "x"')).toMatchObject({
      kind: 'cmp',
      field: 'Title',
      op: 'eq',
      value: 'x',
      quoted: true,
      position: 1,
      opPosition: 7,
      valuePosition: 11,
    });
  });

  it('reads operators and keywords case-insensitively', () => {
    const ast = parseQuery('Title -EQ x and Title -StartsWith y Or Title -eq z');
    expect(printQuery(ast)).toBe('Title -eq x AND Title -startswith y OR Title -eq z');
  });

  it('binds AND tighter than OR, left-associatively', () => {
    const ast = parseQuery('A -eq 1 OR B -eq 2 AND C -eq 3') as Bin;
    expect(ast.kind).toBe('or');
    expect(ast.right.kind).toBe('and');
    const chain = parseQuery('A -eq 1 AND B -eq 2 AND C -eq 3') as Bin;
    expect(chain.left.kind).toBe('and');
    expect(chain.right).toMatchObject({ field: 'C' });
  });

  it('honours parentheses', () => {
    const ast = parseQuery('(A -eq 1 OR B -eq 2) AND C -eq 3') as Bin;
    expect(ast.left.kind).toBe('or');
    expect(parseQuery('((A -eq 1))')).toMatchObject({ kind: 'cmp', field: 'A' });
    expect(printQuery(parseQuery('A -eq 1 AND(B -eq 2 OR C -eq 3)'))).toBe('A -eq 1 AND (B -eq 2 OR C -eq 3)');
  });

  it('reads quotes and escapes', () => {
    const v = (q: string) => (parseQuery(q) as { value: unknown }).value;
    expect(v('T -eq "a \\"b\\" \\\\ c"')).toBe('a "b" \\ c');
    expect(v("T -eq 'it\\'s'")).toBe("it's");
    expect(v('T -eq \'say "hi"\'')).toBe('say "hi"');
    expect(v('T -eq "DOMAIN\\user"')).toBe('DOMAIN\\user'); // lone backslash stays literal
    expect(v('T -eq ""')).toBe('');
  });

  it('reads bare words up to whitespace or ")"', () => {
    expect(parseQuery('(T -eq abc-1.5)')).toMatchObject({ value: 'abc-1.5', quoted: false });
    expect(parseQuery('T -gt -5')).toMatchObject({ value: '-5' });
  });

  it('distinguishes bare NULL from quoted "NULL"', () => {
    expect(parseQuery('T -eq NuLl')).toMatchObject({ value: null, quoted: false });
    expect(parseQuery('T -eq "NULL"')).toMatchObject({ value: 'NULL', quoted: true });
  });
});

describe('operators against SQLite and evaluate()', () => {
  it('string -eq / -ne are case-insensitive; -ne includes NULL', () => {
    expect(match('Title -eq "web server cert"')).toBe('a');
    expect(match('Title -ne "WEB SERVER CERT"')).toBe('bcde');
    expect(match('Title -eq ""')).toBe('e');
  });

  it('string -contains / -notcontains / -startswith / -endswith', () => {
    expect(match('Title -contains server')).toBe('ab');
    expect(match('Title -notcontains server')).toBe('cde');
    expect(match('Title -startswith WEB')).toBe('ab');
    expect(match('Title -endswith CERT')).toBe('a');
  });

  it('treats LIKE wildcards and backslashes literally', () => {
    expect(match('Title -contains "_"')).toBe('b');
    expect(match('Title -endswith "%"')).toBe('b');
    expect(match('Title -contains "%"')).toBe('b');
    expect(match('Title -contains "\\\\"')).toBe('c');
    expect(match('Title -contains "\\"quoted\\""')).toBe('c');
    expect(match('Title -startswith "web_"')).toBe('b');
  });

  it('matches fields by alias and case-insensitively', () => {
    expect(match('name -eq ENROLLMENT')).toBe('ac');
    expect(match('WORKFLOWTYPE -eq revocation')).toBe('b');
  });

  it('integer comparisons', () => {
    expect(match('ReferenceId -eq 2')).toBe('b');
    expect(match('ReferenceId -ne 2')).toBe('acde');
    expect(match('ReferenceId -lt 2')).toBe('ae');
    expect(match('ReferenceId -le 2')).toBe('abe');
    expect(match('ReferenceId -gt 2')).toBe('c');
    expect(match('ReferenceId -ge -5')).toBe('abce');
  });

  it('enum by number or name', () => {
    expect(match('Status -eq 2')).toBe('b');
    expect(match('Status -eq "Suspended"')).toBe('b');
    expect(match('Status -eq suspended')).toBe('b');
    expect(match('Status -ne Running')).toBe('bcd');
  });

  it('booleans', () => {
    expect(match('IsPublished -eq true')).toBe('ac');
    expect(match('IsPublished -eq FALSE')).toBe('be');
    expect(match('IsPublished -ne true')).toBe('bde');
  });

  it('uuid equality ignores case', () => {
    expect(match('Id -eq aaaaaaaa-0000-0000-0000-000000000001')).toBe('a');
    expect(match('Id -eq "BBBBBBBB-0000-0000-0000-000000000002"')).toBe('b');
    expect(match('Id -ne BBBBBBBB-0000-0000-0000-000000000002')).toBe('acde');
    expect(match('Id -startswith CCC')).toBe('c');
  });

  it('dates: instants and whole UTC days', () => {
    expect(match('StartDate -eq 2024-01-01')).toBe('ab');
    expect(match('StartDate -ne 2024-01-01')).toBe('cde');
    expect(match('StartDate -lt 2024-01-01')).toBe('e');
    expect(match('StartDate -le 2024-01-01')).toBe('abe');
    expect(match('StartDate -gt 2024-01-01')).toBe('c');
    expect(match('StartDate -ge 2024-01-01')).toBe('abc');
    expect(match('StartDate -eq "2024-01-02T00:00:00Z"')).toBe('c');
    expect(match('StartDate -ge 2024-01-01T12:00:00.000Z')).toBe('bc');
    expect(match('StartDate -lt 2024-01-02T01:00:00+01:00')).toBe('abe');
    expect(match('StartDate -gt 2024-01-01T23:59')).toBe('bc'); // no offset means UTC
  });

  it('binds the day range for a date-only literal', () => {
    expect(bindQuery(parseQuery('StartDate -eq 2024-02-29'), FIELDS)).toMatchObject({
      value: '2024-02-29T00:00:00.000Z',
      dayRange: ['2024-02-29T00:00:00.000Z', '2024-03-01T00:00:00.000Z'],
    });
  });

  it('NULL tests', () => {
    expect(match('Title -eq NULL')).toBe('d');
    expect(match('Title -ne null')).toBe('abce');
    expect(match('StartDate -eq NULL OR ReferenceId -eq NULL')).toBe('d');
    expect(match('Title -eq "NULL"')).toBe('');
  });

  it('AND / OR / parentheses', () => {
    expect(match('Status -eq 1 OR Status -eq 2 AND IsPublished -eq true')).toBe('ae');
    expect(match('(Status -eq 1 OR Status -eq 2) AND IsPublished -eq true')).toBe('a');
    expect(match('Title -contains web AND ReferenceId -gt 1 OR Id -eq NULL')).toBe('bd');
  });
});

describe('errors point at the offending token', () => {
  const cases: [string, number, RegExp][] = [
    ['Foo -eq 1', 1, /^Unknown field "Foo" at position 1; fields: Id, Title, ReferenceId/],
    ['Title -eq 1 AND Bar -eq 2', 17, /Unknown field "Bar"/],
    ['Title  2', 8, /^Expected an operator such as -eq at position 8$/],
    ['Title', 6, /Expected an operator/],
    ['Title -is x', 7, /Unknown operator "-is" at position 7; operators: -eq/],
    ['Title -eq', 10, /Expected a value at position 10/],
    ['Title -eq AND Id -eq NULL', 11, /Expected a value before AND/],
    ['Title -eq "abc', 11, /Unterminated string starting at position 11/],
    ["Title -eq 'abc\\'", 11, /Unterminated string/],
    ['Title -eq x AND', 16, /Expected a field name after AND at position 16/],
    ['Title -eq x OR ', 16, /after OR/],
    ['Title -eq x AND OR Id -eq NULL', 17, /Expected a field name after AND at position 17/],
    ['AND Title -eq x', 1, /Expected a field name at position 1/],
    ['(Title -eq x', 1, /Unclosed "\(" at position 1/],
    ['Title -eq x)', 12, /Unexpected "\)"/],
    ['()', 2, /Expected a field name/],
    ['(Title -eq x Id -eq NULL)', 14, /Expected AND, OR or "\)"/],
    ['Title -eq a b', 13, /Expected AND or OR at position 13; quote values/],
    ['-eq 1', 1, /Expected a field name/],
    ['ReferenceId -eq abc', 17, /Invalid integer "abc" for field "ReferenceId" at position 17/],
    ['ReferenceId -eq 1.5', 17, /Invalid integer/],
    ['ReferenceId -eq 99999999999999999999', 17, /Invalid integer/],
    ['Id -eq not-a-guid', 8, /Invalid GUID "not-a-guid"/],
    ['Id -eq aaaaaaaa-0000-0000-0000-00000000000', 8, /Invalid GUID/],
    ['StartDate -gt yesterday', 15, /Invalid date "yesterday" for field "StartDate" at position 15; use ISO-8601/],
    ['StartDate -eq 2024-02-30', 15, /Invalid date/],
    ['StartDate -eq 2024-01-01T25:00:00Z', 15, /Invalid date/],
    ['IsPublished -eq yes', 17, /Invalid boolean "yes".*use true or false/],
    ['Status -eq Paused', 12, /Invalid value "Paused".*values: Running \(1\), Suspended \(2\), Complete \(3\)/],
    ['Status -eq 9', 12, /Invalid value "9"/],
    ['Title -lt x', 7, /Operator -lt cannot be used with field "Title" at position 7; use -eq, -ne, -contains/],
    ['Status -contains 1', 8, /Operator -contains cannot be used.*use -eq, -ne$/],
    ['ReferenceId -contains 1', 13, /Operator -contains/],
    ['IsPublished -gt true', 13, /Operator -gt/],
    ['Title -contains NULL', 17, /NULL can only be used with -eq or -ne at position 17/],
    ['(((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((Title -eq x', 65, /nested deeper/],
  ];
  it.each(cases)('%s -> position %i', (query, position, message) => {
    const e = error(query);
    expect(e.message).toMatch(message);
    expect(e.position).toBe(position);
    expect(e.message).toContain(`at position ${position}`);
  });

  it('limits the number of clauses', () => {
    const q = Array.from({ length: 501 }, () => 'Title -eq x').join(' OR ');
    expect(error(q).message).toMatch(/more than 500 clauses/);
  });
});

describe('printQuery', () => {
  it('prints canonical text that reads back', () => {
    const q = 'title -EQ \'a"b\\\\c\' or (Status -eq 2 and Id -ne null) and X -eq "NULL"';
    const printed = printQuery(parseQuery(q));
    expect(printed).toBe('title -eq "a\\"b\\\\c" OR Status -eq 2 AND Id -ne NULL AND X -eq "NULL"');
    expect(printQuery(parseQuery(printed))).toBe(printed);
    expect(printQuery(null)).toBe('');
  });

  it('keeps parentheses that change the tree', () => {
    for (const q of ['A -eq 1 AND (B -eq 2 AND C -eq 3)', 'A -eq 1 OR (B -eq 2 OR C -eq 3)', '(A -eq 1 OR B -eq 2) AND C -eq 3']) {
      expect(printQuery(parseQuery(q))).toBe(q);
    }
    expect(printQuery(parseQuery('(A -eq 1 AND B -eq 2) OR C -eq 3'))).toBe('A -eq 1 AND B -eq 2 OR C -eq 3');
  });
});

describe('compileSql', () => {
  it('uses a no-op condition without a query', () => {
    expect(compileSql(null, 'sqlite')).toEqual({ sql: '1=1', params: [], usedTextIndex: false });
    expect(compileSql(null, 'postgres')).toEqual({ sql: 'TRUE', params: [], usedTextIndex: false });
  });

  it('never puts values into the SQL text', () => {
    const evil = `x'); DROP TABLE t; --`;
    const bound = bindQuery(parseQuery(`Title -eq "${evil}" OR Title -contains "${evil}"`), FIELDS);
    const { sql, params } = compileSql(bound, 'sqlite');
    expect(sql).not.toContain('DROP');
    expect(params).toEqual([evil, `%${evil}%`]);
    expect(match(`Title -eq "${evil}"`)).toBe('');
  });

  it('sqlite text', () => {
    const bound = bindQuery(parseQuery('Title -notcontains "a_b" AND IsPublished -eq true OR Id -eq AAAAAAAA-0000-0000-0000-000000000001'), FIELDS);
    expect(compileSql(bound, 'sqlite')).toEqual({
      sql: `(((title IS NULL OR NOT (LOWER(title) LIKE LOWER(?) ESCAPE '\\')) AND is_published = ?) OR LOWER(id) = ?)`,
      params: ['%a\\_b%', 1, 'aaaaaaaa-0000-0000-0000-000000000001'],
      usedTextIndex: false,
    });
  });

  it('says when a -contains went through the text index, with the exact test kept beside it', () => {
    const textIndex = { columns: new Set(['title']), filter: (col: string, p: string) => `rowid IN (SELECT rowid FROM fts WHERE ${col} LIKE ${p})` };
    const indexed = compileSql(bindQuery(parseQuery('Title -contains Web'), FIELDS), 'sqlite', 1, textIndex);
    expect(indexed).toEqual({
      sql: `(rowid IN (SELECT rowid FROM fts WHERE title LIKE ?) AND LOWER(title) LIKE LOWER(?) ESCAPE '\\')`,
      params: ['%Web%', '%Web%'],
      usedTextIndex: true,
    });
    // Two characters are too short for trigrams, and LIKE escapes do not survive the index.
    expect(compileSql(bindQuery(parseQuery('Title -contains We'), FIELDS), 'sqlite', 1, textIndex).usedTextIndex).toBe(false);
    expect(compileSql(bindQuery(parseQuery('Title -contains "a_b"'), FIELDS), 'sqlite', 1, textIndex).usedTextIndex).toBe(false);
  });

  it('postgres text and $n numbering from firstParam', () => {
    const bound = bindQuery(parseQuery('Title -startswith Web AND (StartDate -eq 2024-01-01 OR IsPublished -ne false) AND ReferenceId -ge 3 AND Status -eq Complete'), FIELDS);
    expect(compileSql(bound, 'postgres', 4)).toEqual({
      sql:
        `(((LOWER(title COLLATE "C") LIKE LOWER($4::text COLLATE "C") ESCAPE '\\' AND ` +
        `((start_date >= $5::timestamptz AND start_date < $6::timestamptz) OR (is_published IS NULL OR NOT (is_published = $7)))) AND ` +
        `reference_id >= $8) AND status = $9)`,
      params: ['Web%', '2024-01-01T00:00:00.000Z', '2024-01-02T00:00:00.000Z', false, 3, 3],
      usedTextIndex: false,
    });
  });

  it('postgres string equality and NULL tests', () => {
    const bound = bindQuery(parseQuery('Title -ne Web OR Id -eq NULL OR StartDate -lt 2024-05-01T10:00:00+02:00'), FIELDS);
    expect(compileSql(bound, 'postgres')).toEqual({
      sql: `(((title IS NULL OR NOT (LOWER(title COLLATE "C") = LOWER($1::text COLLATE "C"))) OR id IS NULL) OR start_date < $2::timestamptz)`,
      params: ['Web', '2024-05-01T08:00:00.000Z'],
      usedTextIndex: false,
    });
  });
});

describe('evaluateQuery', () => {
  it('accepts Date objects and non-canonical ISO strings in records', () => {
    const bound = bindQuery(parseQuery('StartDate -eq 2024-01-01'), FIELDS);
    expect(evaluateQuery(bound, { StartDate: new Date('2024-01-01T05:00:00Z') })).toBe(true);
    expect(evaluateQuery(bound, { StartDate: '2024-01-01T23:00:00-02:00' })).toBe(false);
    expect(evaluateQuery(null, {})).toBe(true);
  });

  it('folds only ASCII case, like SQLite LOWER()', () => {
    const bound = bindQuery(parseQuery('Title -eq "é"'), FIELDS);
    expect(evaluateQuery(bound, { Title: 'É' })).toBe(false);
    expect(evaluateQuery(bound, { Title: 'é' })).toBe(true);
  });
});

describe('resolveSort', () => {
  it('finds fields case-insensitively, by alias, or falls back to the default', () => {
    expect(resolveSort(FIELDS, 'startdate', 'Title').name).toBe('StartDate');
    expect(resolveSort(FIELDS, 'name', 'Title').name).toBe('WorkflowType');
    expect(resolveSort(FIELDS, undefined, 'Title').name).toBe('Title');
    expect(resolveSort(FIELDS, '', 'Title').name).toBe('Title');
  });

  it('rejects unknown fields', () => {
    expect(() => resolveSort(FIELDS, 'Bogus', 'Title')).toThrowError(
      new QueryError('Invalid sort field: Bogus. Sortable fields: Id, Title, ReferenceId, Status, StartDate, IsPublished, WorkflowType', 0),
    );
  });
});
