import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDemo } from '../../src/cli/demo.ts';
import { startTestApp, type TestApp } from '../support/server.ts';

/*
 * Starting by WorkflowType + Key: the demo definition's Key is "1", shown as "WebServer"
 * (its KeyDisplayName). A new user gives the display name; the 404 says which Key was meant.
 */

let t: TestApp;
const I = '/KeyfactorAPI/Workflow/Instances';

beforeAll(async () => {
  t = await startTestApp();
  await loadDemo(t.server.services.store, t.server.workflow, t.server.certificates, () => {});
  // The demo definition is bound to its template: the Key is the template's id.
  const defs = await t.call('GET', '/KeyfactorAPI/Workflow/Definitions?QueryString=WorkflowType%20-eq%20%22Enrollment%22');
  demoKey = defs.body.find((d: { DisplayName: string }) => d.DisplayName === 'Web Server Enrollment').Key;
});
let demoKey: string;
afterAll(() => t.close());

describe('start by WorkflowType and Key', () => {
  it('suggests the Key when the given Key is a KeyDisplayName of a definition of that type', async () => {
    for (const key of ['WebServer', 'webserver']) {
      const res = await t.call('POST', I, { body: { WorkflowType: 'Enrollment', Key: key, Title: 't' } });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({
        ErrorCode: expect.any(String),
        Message: `No definition of type Enrollment has Key "${key}"; did you mean Key "${demoKey}" (KeyDisplayName "WebServer")?`,
      });
    }
  });

  it('makes no suggestion for another type or an unrelated Key, and starts by the real Key', async () => {
    const otherType = await t.call('POST', I, { body: { WorkflowType: 'Revocation', Key: 'WebServer', Title: 't' } });
    expect(otherType.status).toBe(404);
    expect(otherType.body.Message).toBe("No published, enabled definition handles WorkflowType 'Revocation' with Key 'WebServer'.");
    const unrelated = await t.call('POST', I, { body: { WorkflowType: 'Enrollment', Key: 'MailServer', Title: 't' } });
    expect(unrelated.status).toBe(404);
    expect(unrelated.body.Message).not.toMatch(/did you mean/);
    const before = (await t.call('GET', `${I}?ReturnLimit=100`)).body.length;
    const started = await t.call('POST', I, { body: { WorkflowType: 'Enrollment', Key: demoKey, Title: 'by the real key' } });
    expect(started.status).toBe(201);
    // The refused starts created nothing.
    expect((await t.call('GET', `${I}?ReturnLimit=100`)).body.length).toBe(before + 1);
  });
});
