import type { TObject, TSchema } from '@sinclair/typebox';

/** The wire schemas of one HTTP operation, as Fastify's route `schema` option takes them. */
export interface OperationSchemas {
  params?: TObject;
  querystring?: TObject;
  headers?: TObject;
  body?: TSchema;
  /** By status code; documentation only (answers are serialised with JSON.stringify, see docs/api-reference.md). */
  response?: Record<number | string, TSchema>;
}

/** One operation of Keyfactor's published API (src/api/schema/keyfactor.generated.ts). */
export interface KeyfactorOperation extends OperationSchemas {
  /** Which committed contract file it comes from (test/contract/keyfactor-<source>.json). */
  source: string;
  /** Keyfactor's path template, e.g. /Workflow/Definitions/{definitionId}. */
  path: string;
  method: string;
  deprecated?: boolean;
  /** The shapes when the request says x-keyfactor-api-version: 2, where Keyfactor publishes them. */
  v2?: KeyfactorOperation;
}
