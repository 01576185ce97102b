import { OPS, QueryError } from './ast.ts';
import type { CmpAst, Op, QueryAst } from './ast.ts';

/** Limits keep recursion (here, in SQL engines and in evaluate) far from any stack limit. */
export const MAX_DEPTH = 64;
export const MAX_CLAUSES = 500;

const FIELD_RE = /[A-Za-z_][A-Za-z0-9_.]*/y;
const OP_RE = /-[A-Za-z]+/y;
const BARE_RE = /[^\s)]+/y;
/** Keywords end at whitespace, a parenthesis or a quote, so `AND(` works. */
const WORD_RE = /[^\s()"']+/y;

class Cursor {
  i = 0;
  depth = 0;
  clauses = 0;
  constructor(readonly src: string) {}

  /** 1-based position of the cursor (length + 1 at the end). */
  get pos(): number {
    return this.i + 1;
  }
  get ch(): string | undefined {
    return this.src[this.i];
  }
  /** A method, not `ch ===`, so TypeScript does not carry narrowing across cursor moves. */
  is(ch: string): boolean {
    return this.src[this.i] === ch;
  }
  atEnd(): boolean {
    return this.i >= this.src.length;
  }
  skipWs(): void {
    while (!this.atEnd() && /\s/.test(this.src[this.i]!)) this.i++;
  }
  /** Matches a sticky regex at the cursor without consuming it. */
  peek(re: RegExp): string | null {
    re.lastIndex = this.i;
    return re.exec(this.src)?.[0] ?? null;
  }
  fail(message: string, pos = this.pos, hint = ''): never {
    throw new QueryError(`${message} at position ${pos}${hint}`, pos);
  }
}

export function parseQuery(input: string): QueryAst | null {
  if (input.trim() === '') return null;
  const c = new Cursor(input);
  const ast = parseOr(c);
  c.skipWs();
  if (c.ch === ')') c.fail('Unexpected ")" with no matching "("');
  if (!c.atEnd()) c.fail('Expected AND or OR', c.pos, '; quote values that contain spaces');
  return ast;
}

/** Consumes `kw` (case-insensitive) if it is the next word. */
function keyword(c: Cursor, kw: 'and' | 'or'): boolean {
  c.skipWs();
  if (c.peek(WORD_RE)?.toLowerCase() !== kw) return false;
  c.i += kw.length;
  return true;
}

/** OR binds loosest; chains are left-associative, which printQuery relies on. */
function parseOr(c: Cursor): QueryAst {
  let left = parseAnd(c, undefined);
  while (keyword(c, 'or')) left = { kind: 'or', left, right: parseAnd(c, 'OR') };
  return left;
}

function parseAnd(c: Cursor, after: string | undefined): QueryAst {
  let left = parsePrimary(c, after);
  while (keyword(c, 'and')) left = { kind: 'and', left, right: parsePrimary(c, 'AND') };
  return left;
}

function parsePrimary(c: Cursor, after: string | undefined): QueryAst {
  c.skipWs();
  if (c.ch !== '(') return parseClause(c, after);
  const open = c.pos;
  if (++c.depth > MAX_DEPTH) c.fail(`Parentheses nested deeper than ${MAX_DEPTH}`);
  c.i++;
  const inner = parseOr(c);
  c.skipWs();
  if (c.atEnd()) c.fail('Unclosed "("', open);
  if (!c.is(')')) c.fail('Expected AND, OR or ")"');
  c.i++;
  c.depth--;
  return inner;
}

function parseClause(c: Cursor, after: string | undefined): CmpAst {
  const position = c.pos;
  const field = c.peek(FIELD_RE);
  // A keyword where a field belongs is a dangling or doubled AND/OR, not a field named "and".
  if (field === null || /^(and|or)$/i.test(field)) {
    c.fail(`Expected a field name${after ? ` after ${after}` : ''}`);
  }
  if (++c.clauses > MAX_CLAUSES) c.fail(`Query has more than ${MAX_CLAUSES} clauses`);
  c.i += field.length;
  const [op, opPosition] = parseOp(c);
  c.skipWs();
  const valuePosition = c.pos;
  const { value, quoted } = parseValue(c);
  return { kind: 'cmp', field, op, value, quoted, position, opPosition, valuePosition };
}

function parseOp(c: Cursor): [Op, number] {
  c.skipWs();
  const pos = c.pos;
  const word = c.peek(OP_RE);
  if (word === null) c.fail('Expected an operator such as -eq');
  const op = word.slice(1).toLowerCase() as Op;
  if (!OPS.includes(op)) {
    c.fail(`Unknown operator "${word}"`, pos, `; operators: ${OPS.map((o) => `-${o}`).join(', ')}`);
  }
  c.i += word.length;
  return [op, pos];
}

function parseValue(c: Cursor): { value: string | null; quoted: boolean } {
  if (c.ch === '"' || c.ch === "'") return { value: parseQuoted(c), quoted: true };
  const word = c.peek(BARE_RE);
  if (word === null) c.fail('Expected a value');
  const lower = word.toLowerCase();
  // A bare AND/OR here almost always means the value was left out.
  if (lower === 'and' || lower === 'or') c.fail(`Expected a value before ${word.toUpperCase()}`);
  c.i += word.length;
  return { value: lower === 'null' ? null : word, quoted: false };
}

/**
 * `\"`, `\'` and `\\` are escapes; any other backslash is literal so that
 * `"DOMAIN\user"` means what it says.
 */
function parseQuoted(c: Cursor): string {
  const quote = c.ch!;
  const start = c.pos;
  let out = '';
  for (c.i++; ; c.i++) {
    if (c.atEnd()) c.fail('Unterminated string starting', start);
    const ch = c.ch!;
    if (ch === quote) break;
    const next = c.src[c.i + 1];
    if (ch === '\\' && (next === '\\' || next === '"' || next === "'")) {
      out += next;
      c.i++;
    } else {
      out += ch;
    }
  }
  c.i++;
  return out;
}
