import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { noop, publishedDefinition } from '../support/fixtures.ts';
import { dropTestDatabase, testDatabaseUrl, usePostgres } from '../support/database.ts';
import { startNode, stopNode, waitFor, type Node } from './cluster.ts';

/*
 * Expiration alerts with two PostgreSQL nodes polling their schedules every 100 ms: every
 * certificate entering the window starts exactly one Expiration instance, whichever node runs the
 * alert and however often the schedule fires on both. Runs with COUNTERSIGN_TEST_STORE=postgres.
 */
describe.runIf(usePostgres())('expiration alerts on two nodes', () => {
  const nodes: Node[] = [];
  let url = '';
  afterAll(async () => {
    for (const n of nodes) await stopNode(n);
    if (url) await dropTestDatabase(url);
  });

  it('one instance per (certificate, alert) whichever node runs, across repeated runs on both', async () => {
    url = await testDatabaseUrl();
    const env = { COUNTERSIGN_CA_KEY: randomBytes(32).toString('base64'), COUNTERSIGN_ALERT_POLL_MS: '100' };
    nodes.push(...(await Promise.all([0, 1].map(() => startNode(url, env)))));
    const [a, b] = nodes as [Node, Node];
    const tpl = await a.app.call('POST', '/KeyfactorAPI/Templates', { body: { CommonName: 'Short', ValidityDays: 10 }, unchecked: true });
    expect(tpl.status, tpl.text).toBe(200);
    const enroll = (n: Node, cn: string) =>
      n.app.call('POST', '/KeyfactorAPI/Enrollment/PFX', {
        headers: { 'x-certificateformat': 'PFX' },
        body: { Subject: `CN=${cn}`, Template: 'Short', KeyType: 'ECC', Curve: 'P-256', Password: 'Pfx-pass-12' },
      });
    for (let i = 1; i <= 6; i++) expect((await enroll(i % 2 ? a : b, `m-${i}.example.test`)).status).toBe(200);
    const col = await a.app.call('POST', '/KeyfactorAPI/CertificateCollections', { body: { Name: 'M', Query: 'IssuedCN -startswith "m-"' } });
    const alert = await b.app.call('POST', '/KeyfactorAPI/Alerts/Expiration', {
      body: { DisplayName: 'M', ExpirationWarningDays: 30, CertificateQueryId: col.body.Id, UseWorkflows: true, Schedule: {} },
    });
    expect(alert.status, alert.text).toBe(200);
    const def = await publishedDefinition(a.app, [noop('Start', 'End'), noop('End')], { type: 'Expiration', key: String(alert.body.Id) });
    const count = async () =>
      (await a.app.call('GET', `/KeyfactorAPI/Workflow/Instances?ReturnLimit=1000&QueryString=${encodeURIComponent(`DefinitionId -eq "${def}"`)}`)).body.length as number;

    // Every alert follows the global schedule now; set it to Immediate on both nodes, several times.
    const immediate = (n: Node) => n.app.call('PUT', '/KeyfactorAPI/Alerts/Expiration/Schedule', { body: { Schedule: { Immediate: true } } });
    for (let round = 0; round < 3; round++) await Promise.all([immediate(a), immediate(b)]);
    await waitFor(async () => (await count()) === 6, 30_000, 'six instances');
    for (let round = 0; round < 3; round++) await Promise.all([immediate(a), immediate(b)]);
    // A seventh certificate proves the later runs happened: it is picked up, and nothing else is.
    expect((await enroll(b, 'm-7.example.test')).status).toBe(200);
    await Promise.all([immediate(a), immediate(b)]);
    await waitFor(async () => (await count()) >= 7, 30_000, 'the seventh instance');
    for (let round = 0; round < 2; round++) await Promise.all([immediate(a), immediate(b)]);
    await new Promise((r) => setTimeout(r, 500));
    expect(await count()).toBe(7);
  }, 120_000);
});
