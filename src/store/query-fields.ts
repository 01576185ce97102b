import type { FieldSpec } from '../domain/query/index.ts';
import { InstanceStatus } from '../domain/status.ts';

/** QueryString fields per endpoint (api-notes 1.2), mapped to store columns. */
export const DEFINITION_FIELDS: FieldSpec[] = [
  { name: 'DisplayName', type: 'string', column: 'display_name' },
  { name: 'Id', type: 'uuid', column: 'id' },
  { name: 'IsPublished', type: 'boolean', column: 'is_published' },
  { name: 'WorkflowType', type: 'string', column: 'workflow_type' },
  { name: 'Enabled', type: 'boolean', column: 'enabled' },
  { name: 'Key', type: 'string', column: 'key_text' },
  { name: 'DraftVersion', type: 'integer', column: 'draft_version' },
  { name: 'PublishedVersion', type: 'integer', column: 'published_version' },
];

export const INSTANCE_FIELDS: FieldSpec[] = [
  { name: 'DefinitionId', type: 'uuid', column: 'definition_id' },
  { name: 'Id', type: 'uuid', column: 'id' },
  { name: 'InitiatingUserName', type: 'string', column: 'initiator_name' },
  { name: 'LastModified', type: 'date', column: 'last_modified' },
  { name: 'ReferenceId', type: 'integer', column: 'reference_id' },
  { name: 'StartDate', type: 'date', column: 'start_date' },
  { name: 'Status', type: 'enum', column: 'status', enumValues: InstanceStatus },
  { name: 'Title', type: 'string', column: 'title' },
  { name: 'WorkflowType', type: 'string', column: 'workflow_type' },
  { name: 'CurrentStepDisplayName', type: 'string', column: 'current_step_display_name' },
  { name: 'CurrentStepUniqueName', type: 'string', column: 'current_step' },
];

/** In-memory catalogues (steps, types) are filtered with evaluateQuery over these keys. */
export const STEP_FIELDS: FieldSpec[] = [
  { name: 'DisplayName', type: 'string', column: 'DisplayName' },
  { name: 'ExtensionName', type: 'string', column: 'ExtensionName' },
  { name: 'SupportedWorkflowTypes', type: 'string', column: 'SupportedWorkflowTypes' },
];

export const TYPE_FIELDS: FieldSpec[] = [
  { name: 'WorkflowType', type: 'string', column: 'WorkflowType', aliases: ['Name'] },
  { name: 'KeyType', type: 'string', column: 'KeyType' },
];

// Security lists -----------------------------------------------------------------------------

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
