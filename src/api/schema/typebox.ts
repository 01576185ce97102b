import { type Static, type TSchema, Type } from '@sinclair/typebox';

/**
 * A value of T or null, written as OpenAPI 3.0 does (`nullable: true` beside the type) so the
 * document reads like Keyfactor's; ajv understands the keyword.
 */
export const Nullable = <T extends TSchema>(schema: T) => Type.Unsafe<Static<T> | null>({ ...schema, nullable: true });
