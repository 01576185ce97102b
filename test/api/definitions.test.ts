import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { P } from '../../src/security/permissions.ts';
import { EXPORTS_DIR } from '../fixtures/paths.ts';
import { approval, createRole, createUser, noop, publishedDefinition, startInstance } from '../support/fixtures.ts';
import { startTestApp, type TestApp } from '../support/server.ts';

let t: TestApp;
let role: number;
let reader: { id: number; auth: string };
const D = '/KeyfactorAPI/Workflow/Definitions';

beforeAll(async () => {
  t = await startTestApp();
  reader = await createUser(t.server.services.store, 'CORP\\reader');
  role = await createRole(t.server.services.store, 'Readers', [P.definitionsRead, P.instancesReadPending], [reader.id]);
});
afterAll(() => t.close());

const exportsDir = EXPORTS_DIR;
const exportFiles = readdirSync(exportsDir).filter((f) => f.endsWith('.json'));

/** Steps as Keyfactor sends them back, minus the ids we assign. */
const comparable = (steps: any[]) =>
  steps
    .map(({ Id: _id, Conditions, ...rest }) => ({ ...rest, Conditions: Conditions.map(({ Id: _cid, ...c }: any) => c) }))
    .sort((a, b) => a.UniqueName.localeCompare(b.UniqueName));

describe('the six export fixtures (shaped like Keyfactor exports)', () => {
  for (const file of exportFiles) {
    it(`${file} imports through POST + PUT Steps and reads back equal`, async () => {
      const exported = JSON.parse(readFileSync(join(exportsDir, file), 'utf8'));
      const created = await t.call('POST', D, {
        body: { DisplayName: exported.DisplayName, Description: exported.Description, Key: exported.Key, WorkflowType: exported.WorkflowType, Enabled: false },
      });
      expect(created.status).toBe(200);
      const id = created.body.Id;
      const put = await t.call('PUT', `${D}/${id}/Steps`, { body: exported.Steps.map(({ Id: _id, ...s }: any) => s) });
      expect(put.status, put.text).toBe(200);
      const read = await t.call('GET', `${D}/${id}`);
      expect(read.body).toMatchObject({
        DisplayName: exported.DisplayName,
        Description: exported.Description,
        Key: exported.Key,
        WorkflowType: 'Expiration',
        DraftVersion: 1,
        PublishedVersion: null,
        IsPublished: false,
      });
      expect(comparable(read.body.Steps)).toEqual(comparable(exported.Steps));
      const published = await t.call('POST', `${D}/${id}/Publish`);
      expect(published.body).toMatchObject({ IsPublished: true, PublishedVersion: 1 });
    });
  }
});

describe('definitions', () => {
  it('create, read, list, update; v2 shapes with Keys and role names', async () => {
    const created = await t.call('POST', D, { body: { displayname: 'Web servers', description: 'x', key: 'k-web', workflowtype: 'enrollment' } });
    expect(created.body).toMatchObject({ DisplayName: 'Web servers', Key: 'k-web', WorkflowType: 'Enrollment', DraftVersion: 1, PublishedVersion: null, Enabled: true, Steps: [] });
    const id = created.body.Id;
    const list = await t.call('GET', `${D}?QueryString=${encodeURIComponent('DisplayName -eq "Web servers"')}`);
    expect(list.body).toEqual([
      { Id: id, DisplayName: 'Web servers', Key: 'k-web', KeyDisplayName: 'k-web', WorkflowType: 'Enrollment', DraftVersion: 1, PublishedVersion: null, Enabled: true },
    ]);
    const updated = await t.call('PUT', `${D}/${id}`, { body: { DisplayName: 'Web servers (prod)', Description: 'two admins' } });
    expect(updated.body).toMatchObject({ DisplayName: 'Web servers (prod)', Description: 'two admins', DraftVersion: 1 });
    await t.call('PUT', `${D}/${id}/Steps`, { body: [noop('StartNOOP', 'A'), approval('A', 'EndNOOP', [role]), noop('EndNOOP')] });
    const v2 = await t.call('GET', `${D}/${id}`, { headers: { 'x-keyfactor-api-version': '2' } });
    expect(v2.body.Keys).toEqual([{ DisplayName: 'k-web', Value: 'k-web' }]);
    expect(v2.body.Steps.find((s: any) => s.UniqueName === 'A').Signals).toEqual([
      { SignalName: 'ApprovalStatus', Roles: [{ RoleId: String(role), RoleName: 'Readers' }], RoleTokens: [] },
    ]);
    const v2create = await t.call('POST', D, {
      headers: { 'x-keyfactor-api-version': '2' },
      body: { DisplayName: 'Multi', Description: 'two templates', WorkflowType: 'Revocation', Keys: ['7', '8'] },
    });
    expect(v2create.body.Keys).toEqual([
      { DisplayName: '7', Value: '7' },
      { DisplayName: '8', Value: '8' },
    ]);
    const exportable = await t.call('GET', `${D}/${id}?exportable=true`);
    expect(exportable.body.Steps.find((s: any) => s.UniqueName === 'A').Signals[0].RoleIds).toEqual([]);
  });

  it('versions: editing a published definition creates a new draft; running instances stay pinned', async () => {
    const id = await publishedDefinition(t, [noop('StartNOOP', 'A'), approval('A', 'EndNOOP', [role]), noop('EndNOOP')]);
    const inst = await startInstance(t, id);
    const v2steps = [noop('StartNOOP', 'A'), approval('A', 'B', [role]), approval('B', 'EndNOOP', [role]), noop('EndNOOP')];
    const put = await t.call('PUT', `${D}/${id}/Steps`, { body: v2steps });
    expect(put.body).toMatchObject({ DraftVersion: 2, PublishedVersion: 1 });
    const again = await t.call('PUT', `${D}/${id}/Steps`, { body: v2steps });
    expect(again.body.DraftVersion).toBe(2);
    expect((await t.call('GET', `${D}/${id}?definitionVersion=1`)).body.Steps).toHaveLength(3);
    expect((await t.call('GET', `${D}/${id}?definitionVersion=9`)).status).toBe(404);
    await t.call('POST', `${D}/${id}/Publish`);
    const newer = await startInstance(t, id);
    expect((await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${inst}`)).body.Definition.Version).toBe(1);
    expect((await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${newer}`)).body.Definition.Version).toBe(2);
    const rollback = await t.call('POST', `${D}/${id}/Publish/1`);
    expect(rollback.body).toMatchObject({ PublishedVersion: 1, DraftVersion: 2 });
    // Version 2 was published once: editing now starts version 3 instead of changing it.
    expect((await t.call('PUT', `${D}/${id}/Steps`, { body: v2steps })).body.DraftVersion).toBe(3);
    const restarted = await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${inst}/Restart?version=2`);
    expect(restarted.status).toBe(204);
    const fresh = await t.call('GET', restarted.headers.get('location')!);
    expect(fresh.body.Definition.Version).toBe(2);
  });

  it('enable and disable; binding uniqueness among enabled definitions; start needs published and enabled', async () => {
    const id = await publishedDefinition(t, [noop('StartNOOP', 'EndNOOP'), noop('EndNOOP')], { type: 'Revocation', key: 'tmpl-9' });
    const clash = await t.call('POST', D, { body: { DisplayName: 'dup', Key: 'tmpl-9', WorkflowType: 'Revocation' } });
    expect(clash.status).toBe(400);
    expect(clash.body.Message).toMatch(/already handles WorkflowType 'Revocation' with Key 'tmpl-9'/);
    const byBinding = await t.call('POST', '/KeyfactorAPI/Workflow/Instances', { body: { WorkflowType: 'Revocation', Key: 'tmpl-9', Title: 'revoke' } });
    expect(byBinding.status).toBe(201);
    expect(byBinding.body.Status).toBe(3);
    expect((await t.call('PUT', `${D}/${id}/Status`, { body: false })).status).toBe(204);
    expect((await t.call('GET', `${D}/${id}`)).body.Enabled).toBe(false);
    const refused = await t.call('POST', '/KeyfactorAPI/Workflow/Instances', { body: { DefinitionId: id } });
    expect(refused.status).toBe(400);
    expect(refused.body.Message).toMatch(/disabled/);
    const second = await t.call('POST', D, { body: { DisplayName: 'dup', Key: 'tmpl-9', WorkflowType: 'Revocation' } });
    expect(second.status).toBe(200);
    const reenable = await t.call('PUT', `${D}/${id}/Status`, { body: true });
    expect(reenable.status).toBe(400);
    expect((await t.call('PUT', `${D}/${id}/Status`, { body: 'maybe' })).status).toBe(400);
    const draft = await t.call('POST', D, { body: { DisplayName: 'draft only', Key: 'never', WorkflowType: 'Enrollment' } });
    const notPublished = await t.call('POST', '/KeyfactorAPI/Workflow/Instances', { body: { DefinitionId: draft.body.Id } });
    expect(notPublished.status).toBe(400);
    expect(notPublished.body.Message).toMatch(/no published version/);
  });

  it('delete: refused while instances run, then 204 and 404', async () => {
    const id = await publishedDefinition(t, [noop('StartNOOP', 'A'), approval('A', 'EndNOOP', [role]), noop('EndNOOP')]);
    const inst = await startInstance(t, id);
    expect((await t.call('DELETE', `${D}/${id}`)).status).toBe(409);
    await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${inst}/Stop`);
    expect((await t.call('DELETE', `${D}/${id}`)).status).toBe(204);
    expect((await t.call('GET', `${D}/${id}`)).status).toBe(404);
  });

  it('permissions: reading needs Read, changing needs Modify', async () => {
    expect((await t.call('GET', D, { auth: reader.auth })).status).toBe(200);
    const denied = await t.call('POST', D, { auth: reader.auth, body: { DisplayName: 'x', WorkflowType: 'Enrollment' } });
    expect(denied.status).toBe(403);
    expect(denied.body.Message).toMatch(/\/workflows\/definitions\/modify\//);
    expect((await t.call('GET', '/KeyfactorAPI/Workflow/Instances', { auth: reader.auth })).status).toBe(403);
  });
});

describe('PUT Steps validation names the step and the field, and changes nothing', () => {
  const cases: [string, unknown, RegExp][] = [
    ['a dangling output', [noop('StartNOOP', 'Nowhere'), noop('EndNOOP')], /Step 'StartNOOP': Outputs.continue: no step has UniqueName 'Nowhere'/],
    ['a cycle', [noop('StartNOOP', 'A'), noop('A', 'B'), noop('B', 'A')], /Steps: the outputs form a cycle \(A -> B -> A\)/],
    ['two start steps', [noop('StartNOOP', 'EndNOOP'), noop('Other', 'EndNOOP'), noop('EndNOOP')], /more than one start step \(StartNOOP, Other\)/],
    ['duplicate UniqueNames', [noop('StartNOOP', 'EndNOOP'), noop('EndNOOP'), noop('EndNOOP')], /Step 'EndNOOP': UniqueName: is used by more than one step/],
    [
      'an unknown ExtensionName',
      [noop('StartNOOP', 'X'), { ...noop('X', 'EndNOOP'), ExtensionName: 'Teleport' }, noop('EndNOOP')],
      /Step 'X': ExtensionName: unknown step type 'Teleport'/,
    ],
    [
      'a bad parameter',
      [noop('StartNOOP', 'A'), approval('A', 'EndNOOP', [1], { MinimumApprovals: 'two' }), noop('EndNOOP')],
      /Step 'A': ConfigurationParameters.MinimumApprovals: must be a whole number/,
    ],
    [
      'an unknown parameter',
      [noop('StartNOOP', 'A'), approval('A', 'EndNOOP', [1], { MinimumApprovalz: 2 }), noop('EndNOOP')],
      /Step 'A': ConfigurationParameters.MinimumApprovalz: unknown parameter/,
    ],
    [
      'a role that does not exist',
      [noop('StartNOOP', 'A'), approval('A', 'EndNOOP', [4242]), noop('EndNOOP')],
      /Step 'A': Signals.ApprovalStatus.RoleIds: role 4242 does not exist/,
    ],
    [
      'an approval nobody may sign',
      [noop('StartNOOP', 'A'), approval('A', 'EndNOOP', []), noop('EndNOOP')],
      /Step 'A': Signals: RequireApproval needs signal 'ApprovalStatus' with at least one RoleId/,
    ],
    [
      'an end step that is not NOOP',
      [noop('StartNOOP', 'A'), { ...approval('A', 'x', [1]), Outputs: {} }],
      /Step 'A': Outputs: a step without outputs ends the workflow and must be a NOOPStep/,
    ],
    [
      'a step type not allowed for the workflow type',
      [noop('StartNOOP', 'R'), { ...noop('R', 'EndNOOP'), ExtensionName: 'ExpirationRenewal' }, noop('EndNOOP')],
      /Step 'R': ExtensionName: ExpirationRenewal is only allowed in Expiration workflows/,
    ],
    ['not an array', { Steps: [] }, /must be a JSON array/],
    [
      'RoleIds that are not integers',
      [noop('StartNOOP', 'A'), { ...approval('A', 'EndNOOP', []), Signals: [{ SignalName: 'ApprovalStatus', RoleIds: ['admins'] }] }, noop('EndNOOP')],
      /Steps\[1\] \('A'\).Signals\[0\].RoleIds must be a list of integer role ids/,
    ],
    ['no steps', [], /at least a start and an end NOOPStep/],
  ];
  let id: string;
  beforeAll(async () => {
    id = await publishedDefinition(t, [noop('StartNOOP', 'EndNOOP'), noop('EndNOOP')]);
  });
  for (const [name, body, message] of cases) {
    it(name, async () => {
      const before = await t.call('GET', `${D}/${id}`);
      const res = await t.call('PUT', `${D}/${id}/Steps`, { body });
      expect(res.status).toBe(400);
      expect(res.body.Message).toMatch(message);
      expect((await t.call('GET', `${D}/${id}`)).body).toEqual(before.body);
    });
  }
});

describe('catalogue and types', () => {
  it('lists every step type with its declared parameters and filters with QueryString', async () => {
    const all = await t.call('GET', `${D}/Steps`);
    expect(all.body.map((s: any) => s.ExtensionName).sort()).toEqual([
      'Email',
      'EnrollStep',
      'ExpirationRenewal',
      'NOOPStep',
      'OAuthRESTRequest',
      'PowerShell',
      'RESTRequest',
      'RequireApproval',
      'RevokeStep',
      'Script',
      'UpdateMetadata',
    ]);
    const one = await t.call('GET', `${D}/Steps?query.queryString=${encodeURIComponent('ExtensionName -eq "RequireApproval"')}`);
    expect(one.body).toHaveLength(1);
    expect(one.body[0].ConfigurationParametersDefinition.MinimumApprovals).toMatchObject({ Required: false, DefaultValue: '1', ParameterType: 1 });
    expect(one.body[0].SignalsDefinition.ApprovalStatus.InputParameters.Approved.Required).toBe(true);
    const renewal = await t.call('GET', `${D}/Steps?QueryString=${encodeURIComponent('SupportedWorkflowTypes -contains "Expiration"')}`);
    expect(renewal.body.map((s: any) => s.ExtensionName)).toContain('ExpirationRenewal');
    const byName = await t.call('GET', `${D}/Steps/oauthrestrequest`);
    expect(byName.body.ConfigurationParametersDefinition.client_secret.ControlType).toBe(7);
    expect((await t.call('GET', `${D}/Steps/Nope`)).status).toBe(404);
    const types = await t.call('GET', `${D}/Types?QueryString=${encodeURIComponent('Name -eq "Expiration"')}`);
    expect(types.body.map((x: any) => x.WorkflowType)).toEqual(['Expiration']);
    const bad = await t.call('GET', `${D}/Steps?QueryString=${encodeURIComponent('ExtensionName -like "x"')}`);
    expect(bad.status).toBe(400);
    expect(bad.body.Message).toMatch(/position 15/);
  });
});

describe('roles in use', () => {
  it('a role named by a step, or awaited by a suspended instance, cannot be deleted', async () => {
    const store = t.server.services.store;
    const u = await createUser(store, 'CORP\\inuse');
    const r = await createRole(store, 'In use', [P.instancesReadPending], [u.id]);
    const id = await publishedDefinition(t, [noop('StartNOOP', 'A'), approval('A', 'EndNOOP', [r]), noop('EndNOOP')], { name: 'Uses a role' });
    const inst = await startInstance(t, id);
    const waiting = await t.call('DELETE', `/KeyfactorAPI/Security/Roles/${r}`);
    expect(waiting.status).toBe(409);
    expect(waiting.body.Message).toMatch(/suspended instance waits on/);
    await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${inst}/Stop`);
    const named = await t.call('DELETE', `/KeyfactorAPI/Security/Roles/${r}`);
    expect(named.status).toBe(409);
    expect(named.body.Message).toMatch(/named by the signals of 'Uses a role' version 1/);
    await t.call('PUT', `${D}/${id}/Status`, { body: false });
    expect((await t.call('DELETE', `${D}/${id}`)).status).toBe(204);
    expect((await t.call('DELETE', `/KeyfactorAPI/Security/Roles/${r}`)).status).toBe(204);
  });
});
