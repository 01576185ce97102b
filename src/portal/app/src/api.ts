/*
 * The portal's only way to the server: the public API under /KeyfactorAPI, exactly as a script
 * would call it (x-keyfactor-requested-with and HTTP Basic credentials of a Countersign identity).
 */

export const API_BASE = '/KeyfactorAPI';
const SESSION_KEY = 'countersign.portal.session';

export interface Session {
  /** The account name as typed at sign-in. */
  user: string;
  /** The Authorization header value. */
  auth: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Base64 of user:password as UTF-8 (btoa alone fails on non-Latin-1 text). */
export function basicAuth(user: string, password: string): string {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return `Basic ${btoa(bin)}`;
}

export function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Partial<Session>;
    return typeof s.user === 'string' && typeof s.auth === 'string' ? { user: s.user, auth: s.auth } : null;
  } catch {
    return null;
  }
}

export function saveSession(s: Session): void {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
}

export function clearSession(): void {
  sessionStorage.removeItem(SESSION_KEY);
}

let unauthorized: () => void = () => {};
/** Called when the API answers 401: the credentials are no longer good, so back to sign-in. */
export function onUnauthorized(f: () => void): void {
  unauthorized = f;
}

export interface RequestOptions {
  body?: unknown;
  /** Sends x-keyfactor-api-version: 2 (role names on definitions, access-control strings on roles). */
  v2?: boolean;
  /** Credentials other than the session's (the sign-in check). */
  auth?: string;
  /** x-certificateformat (PEM, DER, P7B, PFX) for the certificate operations. */
  format?: string;
}

export interface Answer<T> {
  status: number;
  data: T;
  headers: Headers;
}

export async function call<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<Answer<T>> {
  const auth = opts.auth ?? loadSession()?.auth;
  const headers: Record<string, string> = { 'x-keyfactor-requested-with': 'XMLHttpRequest', Accept: 'application/json' };
  if (auth) headers.Authorization = auth;
  if (opts.v2) headers['x-keyfactor-api-version'] = '2';
  if (opts.format) headers['x-certificateformat'] = opts.format;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['Content-Type'] = 'application/json';
  }
  let res: Response;
  try {
    // credentials: 'omit' keeps the browser from answering the 401 challenge with its own
    // password dialog; the Authorization header set here is still sent.
    res = await fetch(API_BASE + path, { method, headers, body, credentials: 'omit', cache: 'no-store', redirect: 'error' });
  } catch {
    throw new ApiError(0, 'NetworkError', 'The server could not be reached. Check the connection and try again.');
  }
  const text = await res.text();
  let data: unknown;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!res.ok) {
    const e = (data && typeof data === 'object' ? data : {}) as { ErrorCode?: unknown; Message?: unknown };
    const message = typeof e.Message === 'string' && e.Message ? e.Message : `The server answered ${res.status} ${res.statusText}.`;
    const err = new ApiError(res.status, typeof e.ErrorCode === 'string' ? e.ErrorCode : String(res.status), message);
    if (res.status === 401 && opts.auth === undefined) {
      clearSession();
      unauthorized();
    }
    throw err;
  }
  return { status: res.status, data: data as T, headers: res.headers };
}

const get = async <T>(path: string, opts?: RequestOptions): Promise<T> => (await call<T>('GET', path, opts)).data;

// Wire shapes (PascalCase, as on the wire) ----------------------------------------------------------

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

export interface ListParams {
  QueryString?: string;
  SortField?: string;
  /** 0 = ascending, 1 = descending (Keyfactor's naming). */
  SortAscending?: 0 | 1;
  ReturnLimit?: number;
  PageReturned?: number;
}

export function listQuery(p: ListParams = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(p)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export interface DefinitionRef {
  Id: string;
  DisplayName: string | null;
  Version: number;
  WorkflowType: string | null;
}

export interface InstanceRow {
  Id: string;
  Status: number;
  CurrentStepId: string;
  StatusMessage: string | null;
  Definition: DefinitionRef;
  CurrentStepDisplayName: string | null;
  CurrentStepUniqueName: string | null;
  Title: string | null;
  LastModified: string;
  StartDate: string;
  ReferenceId: number;
}

export interface HistoryEntry {
  At: string;
  Kind: string;
  Step: string | null;
  Actor: string | null;
  Message: string;
  Data: JsonObject | null;
}

export interface ReceivedSignal {
  Step: string;
  SignalName: string;
  AccountName: string;
  Data: JsonObject;
  At: string;
}

export interface InstanceDetail extends InstanceRow {
  Signals: { SignalName: string; StepSignalId: string; SignalReceived: boolean }[];
  InitialData: JsonObject | null;
  CurrentStateData: JsonObject | null;
  History?: HistoryEntry[];
  ReceivedSignals?: ReceivedSignal[];
  Metadata?: JsonObject;
  RestartedFrom?: string | null;
  RestartedTo?: string | null;
}

export interface SignalWire {
  SignalName: string;
  RoleIds: number[];
  RoleTokens: string[];
}

export interface StepWire {
  Id?: string;
  DisplayName: string | null;
  UniqueName: string;
  ExtensionName: string;
  Enabled: boolean;
  ConfigurationParameters: JsonObject;
  Signals: SignalWire[];
  Conditions: { Id?: string; Value: string }[];
  Outputs: Record<string, string>;
}

export interface DefinitionV1 {
  Id: string;
  DisplayName: string;
  Description: string | null;
  Key: string | null;
  KeyDisplayName: string | null;
  IsPublished: boolean;
  WorkflowType: string;
  Steps: StepWire[];
  DraftVersion: number;
  PublishedVersion: number | null;
  Enabled: boolean;
}

export interface StepV2 extends Omit<StepWire, 'Signals'> {
  Signals: { SignalName: string; Roles: { RoleId: string; RoleName: string | null }[]; RoleTokens: string[] }[];
}

export interface DefinitionV2 {
  Id: string;
  DisplayName: string;
  Description: string | null;
  WorkflowType: string;
  Keys: { DisplayName: string | null; Value: string }[];
  Enabled: boolean;
  IsPublished: boolean;
  Steps: StepV2[];
  DraftVersion: number;
  PublishedVersion: number | null;
}

export interface DefinitionRow {
  Id: string;
  DisplayName: string;
  Key: string | null;
  KeyDisplayName: string | null;
  WorkflowType: string;
  DraftVersion: number;
  PublishedVersion: number | null;
  Enabled: boolean;
}

export interface ParameterDefinition {
  DisplayName: string;
  ParameterType: number;
  Required: boolean;
  DefaultValue: string | null;
  ControlType: number;
  PotentialValues: string[] | null;
  SupportTokenReplacement: boolean;
  ToolTipContents: string | null;
}

export interface StepType {
  DisplayName: string;
  ExtensionName: string;
  Outputs?: string[];
  SupportedWorkflowTypes?: string[];
  ConfigurationParametersDefinition: Record<string, ParameterDefinition>;
  SignalsDefinition: Record<string, { InputParameters: Record<string, ParameterDefinition> }>;
}

export interface WorkflowTypeInfo {
  WorkflowType: string;
  KeyType: string;
}

export interface RoleShallow {
  Id: number;
  Name: string;
  Description: string;
  Enabled: boolean;
  Immutable: boolean;
  Permissions: string[];
}

export interface IdentityV1 {
  Id: number;
  AccountName: string;
  IdentityType: string;
  Roles: RoleShallow[] | null;
}

export interface RoleV1 extends RoleShallow {
  EmailAddress: string | null;
  PermissionSetId: string;
  Identities: { Id: number; AccountName: string; IdentityType: string }[] | null;
}

export interface RoleV2 {
  Id: number;
  Name: string;
  Description: string;
  EmailAddress: string | null;
  Immutable: boolean;
  PermissionSetId: string;
  Permissions: string[];
  Claims: { Id: number; ClaimType: string; ClaimValue: string; Description: string }[];
}

export interface IdentityPermissions {
  Identity: string;
  SecuredAreaPermissions: { Permission: string; GrantedByRoles: string[] }[];
}

// Operations ---------------------------------------------------------------------------------------

const enc = encodeURIComponent;

export const api = {
  myPermissions: (auth?: string) => get<{ Permissions: string[] | null }>('/Security/My/Permissions', { auth }),
  my: () => get<{ Roles: string[] | null }>('/Security/My'),

  assignedToMe: (p?: ListParams) => get<InstanceRow[]>(`/Workflow/Instances/AssignedToMe${listQuery(p)}`),
  myInstances: (p?: ListParams) => get<InstanceRow[]>(`/Workflow/Instances/My${listQuery(p)}`),
  instances: (p?: ListParams) => get<InstanceRow[]>(`/Workflow/Instances${listQuery(p)}`),
  instance: (id: string) => get<InstanceDetail>(`/Workflow/Instances/${enc(id)}?includeHistory=true`),
  signal: (id: string, stepUniqueName: string, approved: boolean, comment: string) =>
    call('POST', `/Workflow/Instances/${enc(id)}/Signals`, {
      body: { SignalKey: `${stepUniqueName}.ApprovalStatus`, Data: { Approved: approved, Comment: comment === '' ? null : comment } },
    }),
  stop: (id: string) => call('POST', `/Workflow/Instances/${enc(id)}/Stop`),
  /** Answers the new instance's id (from the Location header). */
  restart: async (id: string, version: number | null) => {
    const r = await call('POST', `/Workflow/Instances/${enc(id)}/Restart${version === null ? '' : `?version=${version}`}`);
    const loc = r.headers.get('Location') ?? '';
    return loc.split('/').pop() ?? '';
  },
  deleteInstance: (id: string) => call('DELETE', `/Workflow/Instances/${enc(id)}`),

  definitions: (p?: ListParams) => get<DefinitionRow[]>(`/Workflow/Definitions${listQuery(p)}`),
  definition: (id: string, version?: number) => get<DefinitionV1>(`/Workflow/Definitions/${enc(id)}${version ? `?definitionVersion=${version}` : ''}`),
  definitionV2: (id: string, version?: number) => get<DefinitionV2>(`/Workflow/Definitions/${enc(id)}${version ? `?definitionVersion=${version}` : ''}`, { v2: true }),
  exportDefinition: (id: string, version: number) => get<DefinitionV1>(`/Workflow/Definitions/${enc(id)}?definitionVersion=${version}&exportable=true`),
  createDefinition: (body: { DisplayName: string; Description: string | null; WorkflowType: string; Key: string | null; Enabled?: boolean }) =>
    call<DefinitionV1>('POST', '/Workflow/Definitions', { body }).then((r) => r.data),
  putSteps: (id: string, steps: StepWire[]) => call<DefinitionV1>('PUT', `/Workflow/Definitions/${enc(id)}/Steps`, { body: steps }).then((r) => r.data),
  publish: (id: string, version?: number) => call<DefinitionV1>('POST', `/Workflow/Definitions/${enc(id)}/Publish${version ? `/${version}` : ''}`).then((r) => r.data),
  setEnabled: (id: string, enabled: boolean) => call('PUT', `/Workflow/Definitions/${enc(id)}/Status`, { body: enabled }),
  deleteDefinition: (id: string) => call('DELETE', `/Workflow/Definitions/${enc(id)}`),
  stepTypes: () => get<StepType[]>('/Workflow/Definitions/Steps?ReturnLimit=500'),
  stepType: (extensionName: string) => get<StepType>(`/Workflow/Definitions/Steps/${enc(extensionName)}`),
  workflowTypes: () => get<WorkflowTypeInfo[]>('/Workflow/Definitions/Types'),

  identities: () => get<IdentityV1[]>('/Security/Identities?ReturnLimit=1000'),
  identityPermissions: (id: number) => get<IdentityPermissions>(`/Security/Identities/${id}`),
  createIdentity: (body: { AccountName: string; IdentityType: string; Password?: string; Email?: string }) =>
    call<IdentityV1>('POST', '/Security/Identities', { body }).then((r) => r.data),
  deleteIdentity: (id: number) => call('DELETE', `/Security/Identities/${id}`),
  /** Countersign extensions (docs/compatibility.md): change one's own password; an administrator sets one. */
  changeMyPassword: (body: { CurrentPassword: string; NewPassword: string }) => call('PUT', '/Security/My/Password', { body }),
  setIdentityPassword: (id: number, password: string) => call('POST', `/Security/Identities/${id}/Password`, { body: { Password: password } }),
  roles: () => get<RoleV1[]>('/Security/Roles?ReturnLimit=1000'),
  role: (id: number) => get<RoleV2>(`/Security/Roles/${id}`, { v2: true }),
  roleMembers: (id: number) => get<{ Id: number; Name: string }[]>(`/Security/Roles/${id}/Identities`),
  setRoleMembers: (id: number, ids: number[]) => call('PUT', `/Security/Roles/${id}/Identities`, { body: { Ids: ids } }),
  createRole: (body: { Name: string; Description: string; PermissionSetId: string; Permissions: string[] }) =>
    call<RoleV2>('POST', '/Security/Roles', { body, v2: true }).then((r) => r.data),
  updateRole: (body: { Id: number; Name: string; Description: string; EmailAddress: string | null; PermissionSetId: string; Permissions: string[] }) =>
    call<RoleV2>('PUT', '/Security/Roles', { body, v2: true }).then((r) => r.data),
  deleteRole: (id: number) => call('DELETE', `/Security/Roles/${id}`),
  permissionCatalogue: () => get<string[]>('/Permissions'),
  permissionSets: () => get<{ Id: string; Name: string }[]>('/PermissionSets'),
};
