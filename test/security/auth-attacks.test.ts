import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, startTestApp, type TestApp } from '../support/server.ts';

/*
 * Log-in attacks over real HTTP, on SQLite or PostgreSQL (COUNTERSIGN_TEST_STORE). Attackers
 * connect from other loopback addresses (127.0.0.x: all of 127/8 reaches the server on Linux),
 * so per-address limits can be seen apart from the real users on 127.0.0.1.
 */

const PASSWORD = 'victim-password-1';

interface Raw {
  status: number;
  retryAfter: string | undefined;
  body: any;
}

/** One API call from a chosen local address (fetch cannot choose it). */
function callFrom(app: TestApp, localAddress: string, auth: string, path = '/KeyfactorAPI/Status/HealthCheck'): Promise<Raw> {
  const url = new URL(app.url + path);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'GET',
        localAddress,
        agent: false,
        headers: { authorization: auth, 'x-keyfactor-requested-with': 'APIClient' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          const h = res.headers['retry-after'];
          resolve({ status: res.statusCode ?? 0, retryAfter: Array.isArray(h) ? h[0] : h, body: text ? JSON.parse(text) : undefined });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function createUser(app: TestApp, name: string): Promise<number> {
  const res = await app.call('POST', '/KeyfactorAPI/Security/Identities', { body: { AccountName: name, Password: PASSWORD } });
  expect(res.status).toBe(200);
  return res.body.Id;
}

const expectThrottled = (r: Raw): void => {
  expect(r.status).toBe(429);
  expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
  expect(r.body.ErrorCode).toBe('0xA5C00012');
  expect(typeof r.body.Message).toBe('string');
};

describe('password guessing', { timeout: 90_000 }, () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());

  it('100 parallel guesses: at most 5 are evaluated, the right password among them is refused once locked', async () => {
    const id = await createUser(app, 'CORP\\victim');
    const guesses = Array.from({ length: 100 }, (_, i) => (i === 99 ? PASSWORD : `wrong-${i}`));
    const answers = await Promise.all(guesses.map((pw) => callFrom(app, '127.0.0.2', basic('CORP\\victim', pw))));

    const evaluated = answers.filter((a) => a.status === 401 || a.status === 200);
    expect(evaluated.length).toBeLessThanOrEqual(5);
    expect(answers.filter((a) => a.status === 429).length).toBeGreaterThanOrEqual(95);
    for (const a of answers) if (a.status === 429) expectThrottled(a);
    // The right password was sent last: by then the account was locked.
    expectThrottled(answers[99]!);

    // Still locked for a real user on another address, with any spelling of the name.
    for (const name of ['CORP\\victim', 'victim', 'corp\\VICTIM']) {
      const r = await callFrom(app, '127.0.0.1', basic(name, PASSWORD));
      expectThrottled(r);
      expect(Number(r.retryAfter)).toBeLessThanOrEqual(60);
    }

    // A security administrator lifts the lock; the right password then works.
    expect((await app.call('POST', `/KeyfactorAPI/Security/Identities/${id}/Unlock`, { unchecked: true })).status).toBe(204);
    expect((await callFrom(app, '127.0.0.1', basic('victim', PASSWORD))).status).toBe(204);
  });

  it('unlocking needs Security:Modify, and an unknown id is 404', async () => {
    const id = await createUser(app, 'CORP\\nobody-special');
    const asUser = basic('CORP\\nobody-special', PASSWORD);
    expect((await app.call('POST', `/KeyfactorAPI/Security/Identities/${id}/Unlock`, { auth: asUser, unchecked: true })).status).toBe(403);
    expect((await app.call('POST', '/KeyfactorAPI/Security/Identities/999999/Unlock', { unchecked: true })).status).toBe(404);
  });

  it('a made-up name locks the same way as a real one (the lock-out does not reveal which names exist)', async () => {
    const fire = (name: string) => Promise.all(Array.from({ length: 8 }, (_, i) => callFrom(app, '127.0.0.4', basic(name, `nope-${i}`))));
    const [real, fake] = [await fire('CORP\\nobody-special'), await fire('CORP\\never-created')];
    const shape = (xs: Raw[]) => xs.map((x) => x.status).sort();
    expect(shape(fake)).toEqual(shape(real));
    expect(shape(real)).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
  });
});

describe('log-in floods', { timeout: 90_000 }, () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());

  it('120 made-up names from one address: at most 20 are hashed, the rest are 429 at once; a real log-in is served meanwhile', async () => {
    await createUser(app, 'CORP\\real');
    const flood = Promise.all(Array.from({ length: 120 }, (_, i) => callFrom(app, '127.0.0.5', basic(`ghost-${i}`, 'x'))));
    // A first log-in (not cached: it needs a hash) during the flood.
    const real = await callFrom(app, '127.0.0.1', basic('CORP\\real', PASSWORD));
    const answers = await flood;
    expect(real.status).toBe(204);
    // The flood could put at most 20 hashes ahead of the real log-in (the per-address limit,
    // checked again as each hash starts; one more may already be hashing beside the 20th), so the
    // real user waited for about 10 hash times (2 at once), not for 120.
    expect(answers.filter((a) => a.status === 401).length).toBeLessThanOrEqual(21);
    const refused = answers.filter((a) => a.status === 429);
    expect(refused.length).toBeGreaterThanOrEqual(120 - 21);
    for (const a of refused) expectThrottled(a);
  });

  it('32 approvers signing in at once from one automation host are all served: only failures count against an address', async () => {
    const users = Array.from({ length: 32 }, (_, i) => `CORP\\bot${i}`);
    for (const u of users) await createUser(app, u);
    const answers = await Promise.all(users.map((u) => callFrom(app, '127.0.0.9', basic(u, PASSWORD))));
    expect(answers.map((a) => a.status)).toEqual(users.map(() => 204));
  });

  it('a flood from many addresses fills the hash queue: the excess is refused with 429 at once, and signed-in users are not slowed', async () => {
    const small = await startTestApp({ login: { hashConcurrency: 1, hashQueue: 4 } });
    try {
      await createUser(small, 'CORP\\real');
      const realAuth = basic('CORP\\real', PASSWORD);
      expect((await callFrom(small, '127.0.0.1', realAuth)).status).toBe(204); // now cached
      let done = 0;
      const flood = Promise.all(Array.from({ length: 60 }, (_, i) => callFrom(small, `127.0.1.${1 + (i % 30)}`, basic(`ghost-${i}`, 'x')).finally(() => done++)));
      // While the flood is being refused, the signed-in user's requests are answered.
      // (The flood holds up to 5 hashes, one at a time: it lasts far longer than cached answers.)
      const during: number[] = [];
      for (let i = 0; i < 3; i++) during.push((await callFrom(small, '127.0.0.1', realAuth)).status);
      const servedBeforeFloodEnded = done < 60;
      const answers = await flood;
      expect(during).toEqual([204, 204, 204]);
      expect(servedBeforeFloodEnded).toBe(true);
      const busy = answers.filter((a) => a.status === 429);
      expect(busy.length).toBeGreaterThan(0);
      for (const a of busy) {
        expectThrottled(a);
        expect(a.retryAfter).toBe('1');
      }
      // Every flood answer is a 401 (hashed) or a 429 (refused): nothing waited unboundedly or failed.
      expect(answers.filter((a) => a.status === 401).length + busy.length).toBe(60);
    } finally {
      await small.close();
    }
  });
});

describe('bare user names', { timeout: 90_000 }, () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());

  it('sign in as name when one DOMAIN\\name matches; refused when two do', async () => {
    await createUser(app, 'CORP\\bob');
    expect((await callFrom(app, '127.0.0.1', basic('bob', PASSWORD))).status).toBe(204);
    expect((await callFrom(app, '127.0.0.1', basic('BOB', PASSWORD))).status).toBe(204);
    await createUser(app, 'OTHER\\bob');
    // The cached credential is dropped on the security change (within a second).
    await new Promise((r) => setTimeout(r, 1_100));
    expect((await callFrom(app, '127.0.0.1', basic('bob', PASSWORD))).status).toBe(401);
    expect((await callFrom(app, '127.0.0.1', basic('other\\BOB', PASSWORD))).status).toBe(204);
  });
});
