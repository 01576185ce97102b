export { QueryError } from './ast.ts';
export type { Op, QueryAst, FieldType, FieldSpec, BoundAst } from './ast.ts';
export { parseQuery } from './parser.ts';
export { bindQuery, resolveSort } from './bind.ts';
export { evaluateQuery } from './evaluate.ts';
export { printQuery } from './print.ts';
