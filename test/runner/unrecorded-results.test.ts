import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Instance } from '../../src/domain/types.ts';
import type { InstanceChange, Store } from '../../src/store/store.ts';
import { noop, publishedDefinition } from '../support/fixtures.ts';
import { startTestApp, type TestApp } from '../support/server.ts';
import { json, startHttp, type HttpStandIn } from '../support/stand-ins/http.ts';
import { waitFor } from '../support/until.ts';

/*
 * When the store refuses to record a step's result (on both stores): the run ends as a step
 * failure, or the job is dropped, and the step's side effect never runs more than
 * COUNTERSIGN_STEP_MAX_ATTEMPTS times. The refusal is a real error thrown inside the real
 * store's transaction (which then rolls back), for chosen instances only.
 */

let t: TestApp;
let api: HttpStandIn;
let store: Store;
const MAX_ATTEMPTS = 2;
const LEASE_MS = 1_000;
/** By instance Title: how many more completions the store refuses, and whether dropJob fails too. */
const refused = new Map<string, { completions: number; dropFails: boolean }>();

beforeAll(async () => {
  api = await startHttp((req, res) => json(res, 200, { path: req.path }));
  t = await startTestApp({ stepMaxAttempts: MAX_ATTEMPTS, jobLeaseMs: LEASE_MS, steps: { rest: { timeoutMs: 5_000, maxResponseBytes: 1024 * 1024 } } });
  store = t.server.services.store;
  const titleOf = new Map<string, string>();
  const mutate = store.mutateInstance.bind(store);
  store.mutateInstance = (<R>(id: string, fn: (i: Instance) => InstanceChange<R>) =>
    mutate(id, (current) => {
      const change = fn(current);
      const rule = refused.get(current.title ?? '');
      titleOf.set(id, current.title ?? '');
      if (change.completeJob && rule && rule.completions > 0) {
        rule.completions--;
        throw new Error('simulated: the store refused the write');
      }
      return change;
    })) as Store['mutateInstance'];
  const jobInstance = new Map<number, string>();
  const claim = store.claimJobs.bind(store);
  store.claimJobs = async (...args) => {
    const jobs = await claim(...args);
    for (const j of jobs) jobInstance.set(j.id, j.instanceId);
    return jobs;
  };
  const drop = store.dropJob.bind(store);
  store.dropJob = async (id, owner) => {
    if (refused.get(titleOf.get(jobInstance.get(id) ?? '') ?? '')?.dropFails) throw new Error('simulated: the database is gone');
    return drop(id, owner);
  };
});
afterAll(async () => {
  await t.close();
  await api.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts an instance (Title = path) whose REST step calls `path`; `refuse` arms the store's refusals first. */
async function startWithRest(path: string, refuse?: { completions: number; dropFails: boolean }): Promise<string> {
  if (refuse) refused.set(path, refuse);
  const step = {
    ExtensionName: 'RESTRequest',
    UniqueName: 'Call',
    DisplayName: 'Call the API',
    Enabled: true,
    ConfigurationParameters: { Verb: 'POST', Headers: {}, ContentType: 'application/json', RequestContent: '{}', DataBucketProperty: 'Answer', URL: `${api.url}${path}` },
    Signals: [],
    Conditions: [],
    Outputs: { continue: 'EndNOOP' },
  };
  const def = await publishedDefinition(t, [noop('StartNOOP', 'Call'), step, noop('EndNOOP')], { type: 'Expiration' });
  const res = await t.call('POST', '/KeyfactorAPI/Workflow/Instances', { body: { DefinitionId: def, Title: path } });
  expect(res.status, res.text).toBe(201);
  return res.body.Id;
}

const get = async (id: string) => (await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}`)).body;
const callsTo = (path: string) => api.requests.filter((r) => r.path === path).length;

const until = async (what: string, check: () => Promise<boolean> | boolean, ms = 15_000): Promise<void> => {
  await waitFor(what, check, ms, 50);
};
describe('a result the store refuses', () => {
  it('ends the run as a step failure saying so; the call is not repeated', async () => {
    const id = await startWithRest('/refused-once', { completions: 1, dropFails: false });
    await until('the instance to fail', async () => (await get(id)).Status === 5);
    expect((await get(id)).StatusMessage).toBe("The result of step 'Call' could not be recorded (simulated: the store refused the write); the step is not run again.");
    await sleep(LEASE_MS * 2);
    expect(callsTo('/refused-once')).toBe(1);
  });

  it('when not even the failure can be recorded, the job is dropped: one call, and Stop ends the instance', async () => {
    const id = await startWithRest('/refused-always', { completions: Infinity, dropFails: false });
    await until('the call', () => callsTo('/refused-always') === 1);
    await sleep(LEASE_MS * 3);
    expect(callsTo('/refused-always')).toBe(1);
    expect((await get(id)).Status).toBe(1);
    refused.delete('/refused-always');
    expect((await t.call('POST', `/KeyfactorAPI/Workflow/Instances/${id}/Stop`)).status).toBe(204);
    expect(await get(id)).toMatchObject({ Status: 4, StatusMessage: 'Stopped by admin.' });
  });

  it('when nothing can be written, the step still runs at most COUNTERSIGN_STEP_MAX_ATTEMPTS times; once the store is back, the instance fails saying why', {
    timeout: 120_000,
  }, async () => {
    // A path of its own per run: a retried test counts only its own calls.
    const path = `/store-down-${Date.now()}`;
    const id = await startWithRest(path, { completions: Infinity, dropFails: true });
    // Each lost result leaves the job leased; it is claimed again when the lease ends.
    await until('the runs allowed', () => callsTo(path) === MAX_ATTEMPTS);
    await sleep(LEASE_MS * 3);
    expect(callsTo(path)).toBe(MAX_ATTEMPTS);
    expect((await get(id)).Status).toBe(1);
    refused.delete(path);
    // The leased job is claimed again after its lease: generous on a loaded two-core CI machine.
    await until('the failure to be recorded', async () => (await get(id)).Status === 5, 60_000);
    // Whichever write lands first once the store is back says why: the attempts are used up, or
    // (when the last run's failure note was still being retried) its result could not be recorded.
    expect((await get(id)).StatusMessage).toMatch(
      new RegExp(
        `^(Step 'Call the API' \\(RESTRequest\\) failed: its job was picked up \\d+ times without a result being recorded \\(the limit is ${MAX_ATTEMPTS}\\); it is not run again\\.|The result of step 'Call' could not be recorded \\(simulated: the store refused the write\\); the step is not run again\\.)$`,
      ),
    );
    expect(callsTo(path)).toBe(MAX_ATTEMPTS);
  });
});
