import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/security/password.ts';
import { ACTION_PATH, signAction } from '../../src/security/action-links.ts';
import { P } from '../../src/security/permissions.ts';
import { approval, createRole, noop, publishedDefinition, startInstance } from '../support/fixtures.ts';
import { until } from '../support/until.ts';
import { startTestApp, basic, type TestApp } from '../support/server.ts';
import { startSmtp, type SmtpStandIn } from '../support/stand-ins/smtp.ts';

/** Approval emails, one-click links and deadlines, against a real SMTP server on loopback. */

let t: TestApp;
let smtp: SmtpStandIn;
let approvers: number;
let escalation: number;
const ids: Record<string, number> = {};

async function person(name: string, email: string) {
  const store = t.server.services.store;
  const i = await store.createIdentity({
    accountName: `CORP\\${name}`,
    identityType: 'User',
    sid: null,
    email,
    passwordHash: await hashPassword(`${name}-password`),
    createdAt: new Date().toISOString(),
  });
  ids[name] = i.id;
  return i.id;
}

beforeAll(async () => {
  smtp = await startSmtp();
  t = await startTestApp({
    publicUrl: 'http://links.example.test',
    steps: {
      smtp: {
        host: '127.0.0.1',
        port: smtp.port,
        security: 'none',
        rejectUnauthorized: true,
        user: null,
        password: null,
        from: 'Countersign <pki@example.test>',
        timeoutMs: 5_000,
      },
    },
  });
  const alice = await person('alice', 'alice@corp.example');
  const bob = await person('bob', 'bob@corp.example');
  const carol = await person('carol', 'carol@corp.example');
  approvers = await createRole(t.server.services.store, 'Approvers', [P.instancesReadPending], [alice, bob]);
  escalation = await createRole(t.server.services.store, 'Escalation', [P.instancesReadPending], [carol]);
});
afterAll(async () => {
  await t.close();
  await smtp.close();
});

const to = (address: string) => smtp.messages.filter((m) => m.rcptTo.includes(address));
const linkIn = (body: string, label: 'Approve' | 'Deny') => {
  const m = new RegExp(`<a href="(http://links\\.example\\.test/Countersign/Act/[^"]+)">${label}</a>`).exec(body.replace(/=\r?\n/g, '').replace(/=3D/g, '='));
  if (!m) throw new Error(`no ${label} link in ${body}`);
  return m[1].replace('http://links.example.test', t.url);
};
const history = async (id: string) => (await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}?includeHistory=true`, { unchecked: true })).body;

describe('approval notifications and one-click links', () => {
  it('emails each approver personal links; a link asks first, records once, and the outcome email follows', async () => {
    const def = await publishedDefinition(t, [
      noop('StartNOOP', 'RequireApproval1'),
      approval('RequireApproval1', 'EndNOOP', [approvers], {
        MinimumApprovals: 2,
        RequestSubject: 'Approve $(cn)',
        RequestMessage: '<p>Certificate for $(cn), requested by $(requester).</p>',
        OneClickLinks: true,
        ApprovedSubject: 'Approved: $(cn)',
        ApprovedMessage: '<p>Comments: $(approval signal cmnts)</p>',
        ApprovedRecipients: ['$(requesterEmail)'],
      }),
      noop('EndNOOP'),
    ]);
    const id = await startInstance(t, def, { InitialData: { cn: '<b>web</b>.example.com', requester: 'CORP\\carol', requesterEmail: 'carol@corp.example' } });
    const [forAlice] = await until(async () => (to('alice@corp.example').length ? to('alice@corp.example') : undefined));
    await until(async () => to('bob@corp.example').length);
    expect(forAlice.subject).toBe('Approve <b>web</b>.example.com');
    expect(forAlice.body).toContain('&lt;b&gt;web&lt;/b&gt;.example.com');
    expect(forAlice.body).not.toContain('<b>web</b>');
    expect(forAlice.rcptTo).toEqual(['alice@corp.example']);

    const approveUrl = linkIn(forAlice.body, 'Approve');
    const confirm = await fetch(approveUrl);
    expect(confirm.status).toBe(200);
    expect(confirm.headers.get('referrer-policy')).toBe('no-referrer');
    expect(await confirm.text()).toContain('&lt;b&gt;web&lt;/b&gt;.example.com');
    expect((await history(id)).History.some((h: any) => h.Kind === 'SignalReceived')).toBe(false);

    const done = await fetch(approveUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'comment=Fine+by+me' });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('1 of 2 approvals');
    const again = await fetch(approveUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    expect(again.status).toBe(409);
    expect(await again.text()).toContain('You already approved this request');
    const denyUrl = linkIn(forAlice.body, 'Deny');
    expect((await fetch(denyUrl, { method: 'POST' })).status).toBe(409);
    const forged = approveUrl.slice(0, -3) + (approveUrl.endsWith('AAA') ? 'BBB' : 'AAA');
    expect((await fetch(forged)).status).toBe(400);

    const [forBob] = to('bob@corp.example');
    const bobDone = await fetch(linkIn(forBob.body, 'Approve'), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'comment=Agreed' });
    expect(bobDone.status).toBe(200);
    const inst = await history(id);
    expect(inst.Status).toBe(3);
    expect(
      inst.History.filter((h: any) => h.Kind === 'SignalReceived')
        .map((h: any) => h.Actor)
        .sort(),
    ).toEqual(['CORP\\alice', 'CORP\\bob']);
    const [outcome] = await until(async () => (to('carol@corp.example').length ? to('carol@corp.example') : undefined));
    expect(outcome.subject).toBe('Approved: <b>web</b>.example.com');
    expect(outcome.body).toContain('CORP\\alice: Fine by me');
    expect(outcome.body).toContain('CORP\\bob: Agreed');
    expect(outcome.body).toContain('CORP\\bob: Agreed');
    // One note per notification job: the request (two personal emails) and the outcome.
    const notes = await until(async () => {
      const n = (await history(id)).History.filter((h: any) => h.Kind === 'Notified');
      return n.length === 2 && n;
    });
    expect(notes[0].Data.Recipients.sort()).toEqual(['alice@corp.example', 'bob@corp.example']);
  });

  it('a link does only what the step type declares: an undeclared action is refused and records nothing', async () => {
    const def = await publishedDefinition(t, [
      noop('StartNOOP', 'RequireApproval1'),
      approval('RequireApproval1', 'EndNOOP', [approvers], { RequestSubject: 'Undeclared $(cn)', OneClickLinks: true }),
      noop('EndNOOP'),
    ]);
    const id = await startInstance(t, def, { InitialData: { cn: 'undeclared.example.com' } });
    await until(async () => to('alice@corp.example').some((m) => m.subject === 'Undeclared undeclared.example.com'));
    // The server's own secret: this is a correctly signed link, only its action is unknown to the step.
    const secret = await t.server.services.store.getOrCreateSetting('action_link_secret', 'unused');
    const link = (action: string) =>
      `${t.url}${ACTION_PATH}/${signAction({ instanceId: id, step: 'RequireApproval1', identityId: ids.alice, action, expires: Date.now() + 60_000 }, secret)}`;
    for (const action of ['Escalate', 'constructor', '__proto__']) {
      expect((await fetch(link(action))).status).toBe(400);
      const post = await fetch(link(action), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'comment=x' });
      expect(post.status).toBe(400);
      expect(await post.text()).toContain('This link is not valid.');
    }
    expect((await history(id)).History.some((h: any) => h.Kind === 'SignalReceived')).toBe(false);
    const deny = await fetch(link('Deny'), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'comment=No' });
    expect(deny.status).toBe(200);
    expect(await deny.text()).toContain('<h1>Denied</h1>');
    const inst = await history(id);
    expect(inst.Status).toBe(4);
    expect(inst.History.find((h: any) => h.Kind === 'SignalReceived').Message).toBe('Denied: No');
  });

  it("a link's confirmation form asks what the step's rules need: a reason code and a comment to deny", async () => {
    const def = await publishedDefinition(t, [
      noop('StartNOOP', 'RequireApproval1'),
      approval('RequireApproval1', 'EndNOOP', [approvers], { CommentRequired: 'OnDeny', ReasonCodes: ['Policy', 'Duplicate'] }),
      noop('EndNOOP'),
    ]);
    const id = await startInstance(t, def, { InitialData: { cn: 'policy.example.com' } });
    await until(async () => (await t.server.services.store.getInstance(id))?.status === 'Suspended');
    const secret = await t.server.services.store.getOrCreateSetting('action_link_secret', 'unused');
    const link = (who: number, action: string) =>
      `${t.url}${ACTION_PATH}/${signAction({ instanceId: id, step: 'RequireApproval1', identityId: who, action, expires: Date.now() + 60_000 }, secret)}`;
    const post = (url: string, form: Record<string, string>) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
    const recorded = async () => (await t.server.services.store.getInstance(id))!.signals;

    const denyUrl = link(ids.alice, 'Deny');
    const denyPage = await fetch(denyUrl);
    expect(denyPage.status).toBe(200);
    expect(denyPage.headers.get('referrer-policy')).toBe('no-referrer');
    const deny = await denyPage.text();
    expect(deny).toMatch(/<label for="choice-0">Reason code \(required\)<\/label>\s*<select id="choice-0" name="choice.ReasonCode" required/);
    expect(deny).toContain('<option value="">Choose one</option><option value="Policy">Policy</option><option value="Duplicate">Duplicate</option></select>');
    expect(deny).toContain('<label for="comment">Comment (required, at most 500 characters)</label>');
    expect(deny).toMatch(/<textarea id="comment" name="comment"[^>]* required/);

    const approvePage = await (await fetch(link(ids.alice, 'Approve'))).text();
    expect(approvePage).not.toContain('<select');
    expect(approvePage).toContain('<label for="comment">Comment (optional, at most 500 characters)</label>');
    expect(approvePage).not.toMatch(/<textarea[^>]* required/);

    // A value the form never offered is refused before anything is sent.
    const forged = await post(denyUrl, { 'choice.ReasonCode': 'Whatever', comment: 'No' });
    expect(forged.status).toBe(400);
    const forgedText = await forged.text();
    expect(forgedText).toContain('<h1>Not recorded</h1>');
    expect(forgedText).toContain('Reason code must be one of: Policy, Duplicate.');
    expect(await recorded()).toEqual([]);
    // No code: refused, and the form comes back with what was entered.
    const noCode = await post(denyUrl, { comment: 'Keep <this>' });
    expect(noCode.status).toBe(400);
    const noCodeText = await noCode.text();
    expect(noCodeText).toContain('Reason code is required');
    expect(noCodeText).toContain('>Keep &lt;this&gt;</textarea>');
    // No comment: the step's own check refuses (the engine is the final authority); the chosen code stays selected.
    const noComment = await post(denyUrl, { 'choice.ReasonCode': 'Duplicate', comment: '  ' });
    expect(noComment.status).toBe(400);
    const noCommentText = await noComment.text();
    expect(noCommentText).toContain('<h1>Not recorded</h1>');
    expect(noCommentText).toContain('Data.Comment is required to deny at this step.');
    expect(noCommentText).toContain('<option value="Duplicate" selected>Duplicate</option>');
    expect(await recorded()).toEqual([]);
    expect((await history(id)).History.some((h: any) => h.Kind === 'SignalReceived')).toBe(false);

    const done = await post(denyUrl, { 'choice.ReasonCode': 'Duplicate', comment: 'Already issued' });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('<h1>Denied</h1>');
    const [signal] = await recorded();
    expect(signal.data).toEqual({ Approved: false, Comment: 'Already issued', ReasonCode: 'Duplicate' });
    const inst = await history(id);
    expect(inst.Status).toBe(4);
    expect(inst.History.find((h: any) => h.Kind === 'SignalReceived').Message).toBe('Denied (Duplicate): Already issued');
  });

  it('the form escapes what the step offers, and approving there needs no reason code', async () => {
    const def = await publishedDefinition(t, [
      noop('StartNOOP', 'RequireApproval1'),
      approval('RequireApproval1', 'EndNOOP', [approvers], { CommentRequired: 'Always', ReasonCodes: ['Risk & "harm"', '<b>x</b>'] }),
      noop('EndNOOP'),
    ]);
    const id = await startInstance(t, def, { InitialData: { cn: 'escape.example.com' } });
    await until(async () => (await t.server.services.store.getInstance(id))?.status === 'Suspended');
    const secret = await t.server.services.store.getOrCreateSetting('action_link_secret', 'unused');
    const link = (action: string) =>
      `${t.url}${ACTION_PATH}/${signAction({ instanceId: id, step: 'RequireApproval1', identityId: ids.bob, action, expires: Date.now() + 60_000 }, secret)}`;
    const deny = await (await fetch(link('Deny'))).text();
    expect(deny).toContain('<option value="Risk &amp; &quot;harm&quot;">Risk &amp; &quot;harm&quot;</option><option value="&lt;b&gt;x&lt;/b&gt;">&lt;b&gt;x&lt;/b&gt;</option>');
    expect(deny).not.toContain('<b>x</b>');
    const approve = await (await fetch(link('Approve'))).text();
    expect(approve).not.toContain('<select');
    expect(approve).toContain('Comment (required, at most 500 characters)');
    const done = await fetch(link('Approve'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ comment: 'Fine', 'choice.ReasonCode': '<b>x</b>' }).toString(),
    });
    expect(done.status).toBe(200);
    // A choice the Approve form does not offer is not sent.
    const received = (await history(id)).History.filter((h: any) => h.Kind === 'SignalReceived');
    expect(received.map((h: any) => h.Data)).toEqual([{ Signal: 'ApprovalStatus', Approved: true, Comment: 'Fine' }]);
  });

  it('reminds those who have not acted, escalates to more roles, and times out with the configured action', async () => {
    const def = await publishedDefinition(t, [
      noop('StartNOOP', 'RequireApproval1'),
      approval('RequireApproval1', 'EndNOOP', [approvers], {
        MinimumApprovals: 2,
        RequestSubject: 'Approve $(cn)',
        ReminderInterval: 'PT1S',
        EscalateAfter: 'PT2S',
        EscalationRoleIds: [String(escalation)],
        EscalationRecipients: ['pki-leads@corp.example'],
        TimeoutAfter: 'PT5S',
        TimeoutAction: 'Deny',
        DeniedSubject: 'Denied: $(cn)',
        DeniedRecipients: ['requester@corp.example'],
      }),
      noop('EndNOOP'),
    ]);
    const id = await startInstance(t, def, { InitialData: { cn: 'slow.example.com' } });
    await until(async () => to('alice@corp.example').some((m) => m.subject === 'Approve slow.example.com'));
    const alice = basic('CORP\\alice', 'alice-password');
    expect(
      (await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${id}/Signals`, { auth: alice, body: { SignalKey: 'RequireApproval1.ApprovalStatus', Data: { Approved: true } } }))
        .status,
    ).toBe(204);
    // A reminder already on its way when alice acted may still name her (reminders come every
    // second); the reminders after it go to those who have not acted: bob alone.
    const sent = smtp.messages.length;
    const reminder = await until(async () =>
      smtp.messages
        .slice(sent)
        .find((m) => m.subject === 'Reminder: Approve slow.example.com' && m.rcptTo.includes('bob@corp.example') && !m.rcptTo.includes('alice@corp.example')),
    );
    expect(reminder.rcptTo).toEqual(['bob@corp.example']);

    await until(async () => (await history(id)).History.some((h: any) => h.Kind === 'Escalated'));
    const escalated = await until(async () => smtp.messages.find((m) => m.subject === 'Escalated: Approve slow.example.com'));
    expect(escalated.rcptTo.sort()).toEqual(['carol@corp.example', 'pki-leads@corp.example']);
    const carol = basic('CORP\\carol', 'carol-password');
    expect((await t.call('GET', '/KeyfactorAPI/Workflow/Instances/AssignedToMe', { auth: carol })).body.map((i: any) => i.Id)).toContain(id);

    const denied = await until(async () => to('requester@corp.example').find((m) => m.subject === 'Denied: slow.example.com'), 15_000);
    expect(denied).toBeTruthy();
    const inst = await history(id);
    expect(inst.Status).toBe(4);
    expect(inst.StatusMessage).toMatch(/within 5 seconds: denied automatically/);
    const kinds = inst.History.map((h: any) => h.Kind);
    expect(kinds.filter((k: string) => k === 'TimedOut')).toHaveLength(1);
    expect(kinds.filter((k: string) => k === 'Escalated')).toHaveLength(1);
    expect(kinds.filter((k: string) => k === 'Reminded').length).toBeGreaterThanOrEqual(2);
    // Nothing fires after the end: no stale timer changes a finished instance (notes of emails
    // sent for the outcome may still arrive).
    const changes = (h: any[]) => h.filter((x) => x.Kind !== 'Notified' && x.Kind !== 'NotificationFailed');
    await new Promise((r) => setTimeout(r, 1500));
    const later = await history(id);
    expect(later.Status).toBe(4);
    expect(changes(later.History)).toEqual(changes(inst.History));
  });

  it('without a mail server, notifications are recorded as not sent and the workflow goes on', async () => {
    const quiet = await startTestApp();
    try {
      const store = quiet.server.services.store;
      const u = await store.createIdentity({
        accountName: 'CORP\\dave',
        identityType: 'User',
        sid: null,
        email: 'dave@corp.example',
        passwordHash: await hashPassword('dave-password'),
        createdAt: new Date().toISOString(),
      });
      const role = await createRole(store, 'R', [P.instancesReadPending], [u.id]);
      const def = await publishedDefinition(quiet, [noop('StartNOOP', 'A'), approval('A', 'EndNOOP', [role], { RequestSubject: 'Please' }), noop('EndNOOP')]);
      const id = await startInstance(quiet, def);
      const failed = await until(async () => {
        const h = (await quiet.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}?includeHistory=true`, { unchecked: true })).body.History;
        return h.find((x: any) => x.Kind === 'NotificationFailed');
      });
      expect(failed.Message).toMatch(/no mail server is configured/);
      expect((await quiet.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}`)).body.Status).toBe(2);
    } finally {
      await quiet.close();
    }
  });
});
