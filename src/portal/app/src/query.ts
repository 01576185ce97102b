/*
 * Builds a QueryString in Keyfactor's query language from form rows:
 *   Field -op value AND Field -op value ...
 * Strings, GUIDs and dates are double-quoted (with \" and \\ escaped); numbers are bare.
 */

export type FieldType = 'string' | 'uuid' | 'date' | 'integer' | 'status';

export interface QueryField {
  name: string;
  label: string;
  type: FieldType;
  /** Offered under "Sort by" too (the API sorts by it). */
  sortable?: boolean;
}

export const INSTANCE_QUERY_FIELDS: QueryField[] = [
  { name: 'Title', label: 'Title', type: 'string', sortable: true },
  { name: 'Status', label: 'Status', type: 'status', sortable: true },
  { name: 'InitiatingUserName', label: 'Requester', type: 'string', sortable: true },
  { name: 'CurrentStepDisplayName', label: 'Current step', type: 'string', sortable: true },
  { name: 'WorkflowType', label: 'Workflow type', type: 'string', sortable: true },
  { name: 'StartDate', label: 'Started', type: 'date', sortable: true },
  { name: 'LastModified', label: 'Last modified', type: 'date', sortable: true },
  { name: 'ReferenceId', label: 'Reference id', type: 'integer', sortable: true },
  { name: 'Id', label: 'Instance id', type: 'uuid' },
  { name: 'DefinitionId', label: 'Definition id', type: 'uuid' },
  { name: 'CurrentStepUniqueName', label: 'Current step unique name', type: 'string' },
];

/** The same fields, with the same labels, for "Sort by". */
export const SORT_FIELDS: QueryField[] = INSTANCE_QUERY_FIELDS.filter((f) => f.sortable);

export const CERTIFICATE_QUERY_FIELDS: QueryField[] = [
  { name: 'IssuedCN', label: 'Common name', type: 'string' },
  { name: 'IssuedDN', label: 'Subject', type: 'string' },
  { name: 'RequesterName', label: 'Requester', type: 'string' },
  { name: 'SerialNumber', label: 'Serial number', type: 'string' },
  { name: 'Thumbprint', label: 'Thumbprint', type: 'string' },
  { name: 'IssuerDN', label: 'Issuer', type: 'string' },
  { name: 'KeyTypeString', label: 'Key type', type: 'string' },
  { name: 'KeySizeInBits', label: 'Key size (bits)', type: 'integer' },
  { name: 'NotAfter', label: 'Expires', type: 'date' },
  { name: 'NotBefore', label: 'Valid from', type: 'date' },
  { name: 'TemplateId', label: 'Template id', type: 'integer' },
  { name: 'CertRequestId', label: 'Request id', type: 'integer' },
  { name: 'Id', label: 'Certificate id', type: 'integer' },
];

export const OPERATORS: Record<FieldType, { op: string; label: string }[]> = {
  string: [
    { op: 'contains', label: 'contains' },
    { op: 'eq', label: 'is' },
    { op: 'ne', label: 'is not' },
    { op: 'startswith', label: 'starts with' },
    { op: 'endswith', label: 'ends with' },
    { op: 'notcontains', label: 'does not contain' },
  ],
  uuid: [
    { op: 'eq', label: 'is' },
    { op: 'ne', label: 'is not' },
    { op: 'contains', label: 'contains' },
  ],
  date: [
    { op: 'ge', label: 'on or after' },
    { op: 'le', label: 'on or before' },
    { op: 'eq', label: 'on' },
    { op: 'gt', label: 'after' },
    { op: 'lt', label: 'before' },
  ],
  integer: [
    { op: 'eq', label: '=' },
    { op: 'ne', label: '≠' },
    { op: 'gt', label: '>' },
    { op: 'ge', label: '≥' },
    { op: 'lt', label: '<' },
    { op: 'le', label: '≤' },
  ],
  status: [
    { op: 'eq', label: 'is' },
    { op: 'ne', label: 'is not' },
  ],
};

export const STATUS_NAMES = ['Unknown', 'Running', 'Suspended', 'Complete', 'Rejected', 'Failed', 'CanceledForRestart'] as const;

export interface Condition {
  field: string;
  op: string;
  value: string;
}

export const quote = (v: string): string => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export function fieldOf(name: string, fields: readonly QueryField[] = INSTANCE_QUERY_FIELDS): QueryField {
  return fields.find((f) => f.name === name) ?? fields[0]!;
}

/** One clause; null when the row's value is empty (it is left out). */
export function clause(c: Condition, fields: readonly QueryField[] = INSTANCE_QUERY_FIELDS): string | null {
  const f = fieldOf(c.field, fields);
  const v = c.value.trim();
  if (v === '') return null;
  const ops = OPERATORS[f.type];
  const op = ops.some((o) => o.op === c.op) ? c.op : ops[0]!.op;
  const value = f.type === 'integer' && /^-?\d+$/.test(v) ? v : f.type === 'status' ? v : quote(v);
  return `${f.name} -${op} ${value}`;
}

export function buildQuery(conditions: readonly Condition[], fields: readonly QueryField[] = INSTANCE_QUERY_FIELDS): string {
  return conditions
    .map((c) => clause(c, fields))
    .filter((c): c is string => c !== null)
    .join(' AND ');
}
