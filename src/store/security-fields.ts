import type { FieldSpec } from '../domain/query/index.ts';

/*
 * QueryString / SortField fields of the security lists, mapped to their columns. Column names
 * are SQL text, so they live with the store; they are code-defined, never taken from a request.
 */

/** GET /Security/Roles. */
export const ROLE_FIELDS: FieldSpec[] = [
  { name: 'Id', type: 'integer', column: 'id' },
  { name: 'Name', type: 'string', column: 'name' },
  { name: 'Description', type: 'string', column: 'description' },
  { name: 'EmailAddress', type: 'string', column: 'email', aliases: ['Email'] },
  { name: 'Enabled', type: 'boolean', column: 'enabled' },
  { name: 'Private', type: 'boolean', column: 'private' },
  { name: 'Immutable', type: 'boolean', column: 'immutable' },
  { name: 'PermissionSetId', type: 'uuid', column: 'permission_set_id' },
];

/** SortField of GET /Security/Identities (it has no QueryString). */
export const IDENTITY_FIELDS: FieldSpec[] = [
  { name: 'Id', type: 'integer', column: 'id' },
  { name: 'AccountName', type: 'string', column: 'account_name', aliases: ['Name'] },
  { name: 'IdentityType', type: 'string', column: 'identity_type' },
];
