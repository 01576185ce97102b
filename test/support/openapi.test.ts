import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkErrorBody, checkResponse, checkSchema, contractDir, contractPath, expectValidResponse, findOperation } from './openapi.ts';
import type { ContractDoc } from './openapi.ts';
import { EXPORTS_DIR } from '../fixtures/paths.ts';

const INSTANCE_ID = '6f1c2a9e-8d4b-4c1f-9e2a-3b5d7c9f0a11';
const DEFINITION_ID = '29840de2-d47e-4a36-a20f-487fc8a6f0b7';

/** A hand-written InstanceResponse following Keyfactor.Web.KeyfactorApi.Models.Workflows.InstanceResponse. */
function instance(): Record<string, unknown> {
  return {
    Id: INSTANCE_ID,
    Status: 2,
    CurrentStepId: '246fb038-ccf7-4e63-bdc0-2aef4826fbd8',
    StatusMessage: null,
    Signals: [{ SignalName: 'ApprovalStatus', StepSignalId: 'b9da48de-c769-4055-99a9-05e4d6703ba7', SignalReceived: false }],
    Definition: { Id: DEFINITION_ID, DisplayName: 'Approve enrollment', Version: 3, WorkflowType: 'Enrollment' },
    CurrentStepDisplayName: 'Require approval',
    CurrentStepUniqueName: 'RequireApproval',
    Title: 'Enrollment of CN=www.example.com',
    LastModified: '2025-03-01T12:00:00Z',
    StartDate: '2025-03-01T11:59:00Z',
    InitialData: { CN: 'www.example.com', Nested: { any: ['thing', 1, null] }, Nothing: null },
    CurrentStateData: {},
    ReferenceId: 42,
  };
}

const getInstance = (body: unknown, doc: ContractDoc = 'workflow-v1') => ({
  doc,
  method: 'GET',
  url: `/KeyfactorAPI/Workflow/Instances/${INSTANCE_ID}?QueryString=x`,
  status: 200,
  body,
  contentType: 'application/json; charset=utf-8',
});

describe('contract location', () => {
  it('reads the contract facts committed in the repository', () => {
    expect(readdirSync(contractDir())).toEqual(expect.arrayContaining(['keyfactor-workflow.json', 'keyfactor-security.json']));
  });

  it('strips the base path, query string and host', () => {
    expect(contractPath('/KeyfactorAPI/Workflow/Instances/abc?QueryString=x')).toBe('/Workflow/Instances/abc');
    expect(contractPath('/keyfactorapi/Workflow/Instances/')).toBe('/Workflow/Instances');
    expect(contractPath('http://127.0.0.1:8080/KeyfactorAPI/Workflow/Definitions?a=1#f')).toBe('/Workflow/Definitions');
    expect(contractPath('/KeyfactorAPIx/Workflow')).toBe('/KeyfactorAPIx/Workflow');
  });
});

describe('InstanceResponse (workflow-v1)', () => {
  it('accepts a valid response', () => {
    expect(checkResponse(getInstance(instance()))).toEqual([]);
    expect(() => expectValidResponse(getInstance(instance()))).not.toThrow();
  });

  it('matches the path case-insensitively', () => {
    expect(checkResponse({ ...getInstance(instance()), url: `/keyfactorapi/workflow/INSTANCES/${INSTANCE_ID}` })).toEqual([]);
  });

  it('rejects a wrong type', () => {
    const problems = checkResponse(getInstance({ ...instance(), Status: 'Suspended' }));
    expect(problems.join('\n')).toMatch(/body\/Status: must be integer/);
    expect(() => expectValidResponse(getInstance({ ...instance(), Status: 'Suspended' }))).toThrow(/body\/Status/);
  });

  it('rejects a value outside the enum, a bad uuid and a bad date-time', () => {
    const problems = checkResponse(getInstance({ ...instance(), Status: 9, Id: 'not-a-guid', StartDate: 'yesterday' })).join('\n');
    expect(problems).toMatch(/body\/Status: must be equal to one of the allowed values/);
    expect(problems).toMatch(/body\/Id: must match format "uuid"/);
    expect(problems).toMatch(/body\/StartDate: must match format "date-time"/);
  });

  it('rejects null where the schema is not nullable, accepts it where it is', () => {
    expect(checkResponse(getInstance({ ...instance(), Title: null, Signals: null, InitialData: null }))).toEqual([]);
    expect(checkResponse(getInstance({ ...instance(), StartDate: null })).join('\n')).toMatch(/body\/StartDate: must be string/);
  });

  it('rejects an undeclared property, at the top level and nested', () => {
    const typo = checkResponse(getInstance({ ...instance(), CurrentStepDisplayNAme: 'x' }));
    expect(typo).toEqual(['body: undeclared property "CurrentStepDisplayNAme" (not in Keyfactor.Web.KeyfactorApi.Models.Workflows.InstanceResponse)']);
    const nested = checkResponse(getInstance({ ...instance(), Definition: { ...(instance().Definition as object), DisplayNAme: 'x' } }));
    expect(nested.join('\n')).toMatch(/body\/Definition: undeclared property "DisplayNAme"/);
  });

  it('does not treat map keys (InitialData) as undeclared properties', () => {
    expect(checkResponse(getInstance({ ...instance(), InitialData: { Anything: 1, 'with/slash': { deep: true } } }))).toEqual([]);
  });

  it('has no required properties (the v25 contract declares `required` only on request schemas)', () => {
    expect(checkResponse(getInstance({}))).toEqual([]);
  });

  it('rejects a missing required property (shown with a request schema, the only kind that has them)', () => {
    expect(checkSchema('workflow-v1', 'V1.DefinitionUpdateV1Request', { DisplayName: 'x', Description: 'y' })).toEqual([]);
    const problems = checkSchema('workflow-v1', 'V1.DefinitionUpdateV1Request', { DisplayName: 'x' });
    expect(problems.join('\n')).toMatch(/must have required property 'Description'/);
    expect(checkSchema('workflow-v1', 'V1.DefinitionUpdateV1Request', { DisplayName: '', Description: 'y' }).join('\n')).toMatch(
      /body\/DisplayName: must NOT have fewer than 1 characters/,
    );
  });

  it('rejects a body whose top-level type is wrong', () => {
    expect(checkResponse(getInstance([instance()])).join('\n')).toMatch(/body: must be object/);
  });

  it('rejects an undocumented content type', () => {
    expect(checkResponse({ ...getInstance(instance()), contentType: 'text/html' }).join('\n')).toMatch(/content type text\/html is not documented/);
  });
});

describe('path and operation matching', () => {
  it('prefers literal segments: /Workflow/Definitions/Steps is not /Workflow/Definitions/{definitionId}', () => {
    const op = findOperation('workflow-v1', 'GET', '/KeyfactorAPI/Workflow/Definitions/Steps?ReturnLimit=10');
    expect(op).toMatchObject({ template: '/Workflow/Definitions/Steps', method: 'GET' });
    const byId = findOperation('workflow-v1', 'GET', `/KeyfactorAPI/Workflow/Definitions/${DEFINITION_ID}`);
    expect(byId).toMatchObject({ template: '/Workflow/Definitions/{definitionId}' });

    const steps = [{ DisplayName: 'No-op', ExtensionName: 'NOOPStep', SupportedWorkflowTypes: ['Enrollment'], ConfigurationParametersDefinition: {}, SignalsDefinition: {} }];
    const r = { doc: 'workflow-v1' as const, method: 'GET', url: '/KeyfactorAPI/Workflow/Definitions/Steps', status: 200 };
    expect(checkResponse({ ...r, body: steps })).toEqual([]);
    // A definition object is wrong there: it would only pass if the {definitionId} template had been picked.
    expect(checkResponse({ ...r, body: { Id: DEFINITION_ID, DisplayName: 'x' } }).join('\n')).toMatch(/body: must be array/);
  });

  it('falls back to a template when the literal route lacks the method (ASP.NET-style)', () => {
    expect(findOperation('workflow-v1', 'PUT', '/KeyfactorAPI/Workflow/Definitions/Steps')).toMatchObject({
      template: '/Workflow/Definitions/{definitionId}',
    });
  });

  it('reports unknown paths and methods', () => {
    expect(checkResponse({ doc: 'workflow-v1', method: 'GET', url: '/KeyfactorAPI/Workflow/Nope', status: 200, body: {} })[0]).toMatch(
      /no path in workflow-v1 matches \/Workflow\/Nope/,
    );
    expect(checkResponse({ doc: 'workflow-v1', method: 'PATCH', url: `/KeyfactorAPI/Workflow/Instances/${INSTANCE_ID}`, status: 200, body: {} })[0]).toMatch(/no PATCH operation/);
  });

  it('checks array responses item by item', () => {
    const r = { doc: 'workflow-v1' as const, method: 'GET', url: '/KeyfactorAPI/Workflow/Instances', status: 200 };
    expect(checkResponse({ ...r, body: [] })).toEqual([]);
    const item = { Id: INSTANCE_ID, Status: 1, CurrentStep: 'x' };
    expect(checkResponse({ ...r, body: [item] }).join('\n')).toMatch(/body\/0: undeclared property "CurrentStep"/);
  });
});

describe('API versions', () => {
  const v1Definition = JSON.parse(readFileSync(path.join(EXPORTS_DIR, 'notice-60-days.json'), 'utf8')) as Record<string, unknown>;
  const get = (doc: ContractDoc, body: unknown) => ({
    doc,
    method: 'GET',
    url: `/KeyfactorAPI/Workflow/Definitions/${DEFINITION_ID}`,
    status: 200,
    body,
  });

  it('v2 GET /Workflow/Definitions/{id} expects Keys (DefinitionResponse), not Key/KeyDisplayName', () => {
    const { Key, KeyDisplayName, ...rest } = v1Definition;
    const steps = (rest.Steps as Array<Record<string, unknown>>).map((s) => ({ ...s, Signals: [] }));
    const v2 = { ...rest, Steps: steps, Keys: [{ Value: String(Key), DisplayName: String(KeyDisplayName) }] };
    expect(checkResponse(get('workflow-v2', v2))).toEqual([]);

    const problems = checkResponse(get('workflow-v2', v1Definition)).join('\n');
    expect(problems).toMatch(/body: undeclared property "Key" \(not in Keyfactor\.Web\.KeyfactorApi\.Models\.Workflows\.DefinitionResponse\)/);
    expect(problems).toMatch(/undeclared property "KeyDisplayName"/);

    expect(checkResponse(get('workflow-v1', v2)).join('\n')).toMatch(/undeclared property "Keys" \(not in .*V1\.DefinitionV1Response\)/);
  });

  it('v2 signal roles are {RoleId, RoleName} objects, v1 has RoleIds (int32)', () => {
    const step = { Id: DEFINITION_ID, UniqueName: 'A', Signals: [{ SignalName: 'ApprovalStatus', RoleIds: [1] }] };
    expect(checkResponse(get('workflow-v1', { Id: DEFINITION_ID, Steps: [step] }))).toEqual([]);
    expect(checkResponse(get('workflow-v2', { Id: DEFINITION_ID, Steps: [step] })).join('\n')).toMatch(/undeclared property "RoleIds"/);
    const v2Step = { ...step, Signals: [{ SignalName: 'ApprovalStatus', Roles: [{ RoleId: '1', RoleName: 'Approvers' }] }] };
    expect(checkResponse(get('workflow-v2', { Id: DEFINITION_ID, Steps: [v2Step] }))).toEqual([]);
  });

  it('v10 (Java SDK) declares nothing nullable, and no Enabled on definitions', () => {
    expect(checkResponse(getInstance({ Id: INSTANCE_ID, StatusMessage: 'ok' }, 'workflow-v10'))).toEqual([]);
    expect(checkResponse(getInstance({ Id: INSTANCE_ID, StatusMessage: null }, 'workflow-v10')).join('\n')).toMatch(/body\/StatusMessage: must be string/);
    expect(checkResponse(get('workflow-v10', { Id: DEFINITION_ID, Enabled: true })).join('\n')).toMatch(/undeclared property "Enabled"/);
  });

  it('security v1 and v2 role responses differ', () => {
    const url = '/KeyfactorAPI/Security/Roles/7';
    const v2Role = {
      Id: 7,
      Name: 'Approvers',
      Description: 'd',
      EmailAddress: null,
      Immutable: false,
      PermissionSetId: DEFINITION_ID,
      Permissions: ['/workflows/instances/manage/'],
      Claims: [],
    };
    expect(checkResponse({ doc: 'security-v2', method: 'GET', url, status: 200, body: v2Role })).toEqual([]);
    expect(checkResponse({ doc: 'security-v1', method: 'GET', url, status: 200, body: v2Role }).join('\n')).toMatch(/undeclared property/);
  });
});

describe('204 No Content', () => {
  const del = (body: unknown) => ({
    doc: 'workflow-v1' as const,
    method: 'DELETE',
    url: `/KeyfactorAPI/Workflow/Instances/${INSTANCE_ID}`,
    status: 204,
    body,
  });

  it('accepts an empty body', () => {
    expect(checkResponse(del(undefined))).toEqual([]);
    expect(checkResponse(del(null))).toEqual([]);
    expect(checkResponse(del(''))).toEqual([]);
  });

  it('rejects a body', () => {
    expect(checkResponse(del({ Id: INSTANCE_ID })).join('\n')).toMatch(/must have no body/);
    expect(() => expectValidResponse(del('{}'))).toThrow(/must have no body/);
  });

  it('rejects 200 where the contract says 204, and 204 where it says 200', () => {
    expect(checkResponse({ ...del({}), status: 200 })[0]).toMatch(/contract documents 204 No Content for DELETE \/Workflow\/Instances\/\{instanceId\}/);
    expect(checkResponse({ doc: 'workflow-v1', method: 'GET', url: `/KeyfactorAPI/Workflow/Instances/${INSTANCE_ID}`, status: 204, body: undefined })[0]).toMatch(
      /status 204 No Content, but the contract documents only 200 \(with a body\) for GET/,
    );
    expect(checkResponse({ doc: 'workflow-v1', method: 'POST', url: `/KeyfactorAPI/Workflow/Instances/${INSTANCE_ID}/Signals`, status: 204, body: '' })).toEqual([]);
  });
});

describe('errors', () => {
  const notFound = (body: unknown) => ({
    doc: 'workflow-v1' as const,
    method: 'GET',
    url: `/KeyfactorAPI/Workflow/Instances/${INSTANCE_ID}`,
    status: 404,
    body,
  });

  it('accepts {ErrorCode, Message} for a 4xx', () => {
    const body = { ErrorCode: '0xA0110002', Message: 'Unable to find workflow instance.' };
    expect(checkResponse(notFound(body))).toEqual([]);
    expect(checkResponse({ ...notFound(body), status: 400 })).toEqual([]);
    expect(checkErrorBody({ ...body, Details: 'extra fields are allowed' })).toEqual([]);
  });

  it('rejects an error body without Message, with empty fields, or not an object', () => {
    expect(checkResponse(notFound({ ErrorCode: '0xA0110002' }))).toEqual(['error body: Message must be a non-empty string, got undefined']);
    expect(() => expectValidResponse(notFound({ ErrorCode: '0xA0110002' }))).toThrow(/Message/);
    expect(checkErrorBody({ ErrorCode: '', Message: 'x' })[0]).toMatch(/ErrorCode must be a non-empty string/);
    expect(checkErrorBody('Not Found')[0]).toMatch(/must be a JSON object/);
    expect(checkErrorBody(undefined)[0]).toMatch(/must be a JSON object/);
  });
});

describe('export fixtures (shaped like Command 25.1 exports)', () => {
  const dir = EXPORTS_DIR;
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();

  it('has the six exports', () => {
    expect(files).toHaveLength(6);
  });

  it.each(files)('%s validates as the 200 of GET /Workflow/Definitions/{id} in workflow-v1', (file) => {
    const body = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as { Id: string };
    expectValidResponse({
      doc: 'workflow-v1',
      method: 'GET',
      url: `/KeyfactorAPI/Workflow/Definitions/${body.Id}`,
      status: 200,
      body,
      contentType: 'application/json; charset=utf-8',
    });
  });
});
