/** Types of the Keyfactor-style QueryString language (api-notes §1.2). */

export type Op = 'eq' | 'ne' | 'contains' | 'notcontains' | 'startswith' | 'endswith' | 'lt' | 'le' | 'gt' | 'ge';

export const OPS: readonly Op[] = ['eq', 'ne', 'contains', 'notcontains', 'startswith', 'endswith', 'lt', 'le', 'gt', 'ge'];

/**
 * Parsed, unbound query. `position` is the 1-based index of the field name.
 * `opPosition`/`valuePosition` are optional extras so the binder can point its errors at the
 * operator or the value rather than at the field (hand-built ASTs may leave them out).
 */
export type QueryAst =
  | { kind: 'and' | 'or'; left: QueryAst; right: QueryAst }
  | {
      kind: 'cmp';
      field: string;
      op: Op;
      /** null only for a bare NULL; a quoted "NULL" is the string. */
      value: string | null;
      quoted: boolean;
      position: number;
      opPosition?: number;
      valuePosition?: number;
    };

export type CmpAst = Extract<QueryAst, { kind: 'cmp' }>;

/** Every user-facing query problem; `position` is 1-based (0 when there is no query text, e.g. sort). */
export class QueryError extends Error {
  readonly position: number;
  constructor(message: string, position: number) {
    super(message);
    this.name = 'QueryError';
    this.position = position;
  }
}

export type FieldType = 'string' | 'integer' | 'date' | 'boolean' | 'uuid' | 'enum';

export interface FieldSpec {
  name: string;
  type: FieldType;
  /** SQL column expression; trusted (comes from code, never from the query). */
  column: string;
  enumValues?: Record<string, number>;
  /** record key for evaluate(); defaults to name */
  key?: string;
  aliases?: string[];
}

export type BoundAst =
  | { kind: 'and' | 'or'; left: BoundAst; right: BoundAst }
  | {
      kind: 'cmp';
      field: FieldSpec;
      op: Op;
      value: string | number | boolean | null;
      /** [start, end) of the UTC day when a date field is compared with a date-only literal */
      dayRange?: [string, string];
    };

export type BoundCmp = Extract<BoundAst, { kind: 'cmp' }>;
