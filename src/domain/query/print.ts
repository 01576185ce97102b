import type { QueryAst } from './ast.ts';

const PRECEDENCE = { or: 1, and: 2, cmp: 3 } as const;

/**
 * Canonical text. The parser builds left-associative trees, so a right child of the same kind
 * needs parentheses while a left child does not.
 */
export function printQuery(ast: QueryAst | null): string {
  return ast === null ? '' : printNode(ast);
}

function printNode(ast: QueryAst): string {
  if (ast.kind === 'cmp') return `${ast.field} -${ast.op} ${printValue(ast.value, ast.quoted)}`;
  const p = PRECEDENCE[ast.kind];
  const left = wrap(ast.left, PRECEDENCE[ast.left.kind] < p);
  const right = wrap(ast.right, PRECEDENCE[ast.right.kind] <= p);
  return `${left} ${ast.kind.toUpperCase()} ${right}`;
}

const wrap = (ast: QueryAst, parens: boolean): string => (parens ? `(${printNode(ast)})` : printNode(ast));

/** Bare values print as typed; anything that would not read back as the same bare word is quoted. */
function printValue(value: string | null, quoted: boolean): string {
  if (value === null) return 'NULL';
  if (!quoted && isBareWord(value)) return value;
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}

function isBareWord(v: string): boolean {
  return /^[^\s)"'][^\s)]*$/.test(v) && !['null', 'and', 'or'].includes(v.toLowerCase());
}
