import { Type } from '@sinclair/typebox';
import Fastify from 'fastify';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installApiDocs } from '../../src/api/api-docs.ts';
import { extension, keyfactorOperation } from '../../src/api/schema/routes.ts';
import { bodyValidator, canonicalise } from '../../src/api/schema/validation.ts';
import { noop, publishedDefinition } from '../support/fixtures.ts';
import { startTestApp, type TestApp } from '../support/server.ts';

/*
 * Request bodies are checked against the route's schema (src/api/api-docs.ts), after their
 * property names are put in the schema's casing, and a failure answers Keyfactor's error shape.
 */

/** The values of a JSON value, names aside (renaming changes names only): objects as their sorted values. */
const valuesOf = (v: unknown): string =>
  Array.isArray(v) ? `[${v.map(valuesOf).join(',')}]` : v !== null && typeof v === 'object' ? `{${Object.values(v).map(valuesOf).sort().join(',')}}` : JSON.stringify(v);

const ROLE_CREATE = keyfactorOperation('POST', '/KeyfactorAPI/Security/Roles/')!.body!;

describe('canonicalise (property names in the schema’s casing)', () => {
  it('renames declared properties at every depth, leaves unknown names and values alone', () => {
    const body: Record<string, unknown> = { name: 'R', DESCRIPTION: 'd', identities: [{ accountname: 'x', Other: 1 }], Extra: { name: 'kept' } };
    canonicalise(body, ROLE_CREATE);
    expect(body).toEqual({ Name: 'R', Description: 'd', Identities: [{ AccountName: 'x', Other: 1 }], Extra: { name: 'kept' } });
  });

  it('an exact name wins over another casing of it, which stays as sent', () => {
    const body: Record<string, unknown> = { name: 'second', Name: 'first' };
    canonicalise(body, ROLE_CREATE);
    expect(body).toEqual({ name: 'second', Name: 'first' });
  });

  it('never throws and keeps every value, whatever the body (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const before = valuesOf(v);
        canonicalise(v, ROLE_CREATE);
        expect(valuesOf(v)).toBe(before);
      }),
    );
  });
});

describe('bodyValidator', () => {
  const validate = bodyValidator(ROLE_CREATE);
  it('takes what the handlers took: numbers and booleans as text, unknown properties, no body', () => {
    expect(validate({ Name: 'R', Description: 'd', Enabled: 'TRUE', Private: false, Unknown: [1] })).toBe(true);
    expect(validate(undefined)).toBe(true);
    expect(validate({})).toBe(true);
    // Enumerations by number or by name (Claims[].ClaimType of a v2 role).
    const v2Role = bodyValidator(keyfactorOperation('PUT', '/KeyfactorAPI/Security/Roles')!.v2!.body!);
    expect(
      v2Role({
        Claims: [
          { ClaimType: 'User', ClaimValue: 'a' },
          { ClaimType: 0, ClaimValue: 'b' },
        ],
      }),
    ).toBe(true);
    expect((v2Role({ Claims: [{ ClaimType: true }] }) as { error: Error }).error.message).toMatch(/^Claims\[0\]\.ClaimType must be/);
  });
  it('names the property and the expected type, with its path', () => {
    const r = validate({ Name: 'R', Identities: [{ AccountName: 5 }] });
    expect(r).not.toBe(true);
    expect((r as { error: Error }).error.message).toBe('Identities[0].AccountName must be a string.');
    expect((validate({ Enabled: 'yes' }) as { error: Error }).error.message).toBe('Enabled must be true or false.');
    expect((validate([]) as { error: Error }).error.message).toBe('The request body must be a JSON object.');
  });
});

describe('which routes the schema check applies to', () => {
  it('extension() routes get it; a route with a plain Fastify schema keeps Fastify’s own validation and serialisation', async () => {
    const app = Fastify();
    await installApiDocs(app, { version: 'test' });
    const body = Type.Object({ Count: Type.Integer() }, { required: [] });
    app.post('/ext', { schema: extension({ summary: 'x', body, response: { 200: Type.Object({}) } }) }, async (req) => ({ got: req.body }));
    app.post(
      '/plain',
      {
        schema: {
          body: { type: 'object', required: ['Count'], properties: { Count: { type: 'integer' } } },
          response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } },
        },
      },
      async () => ({ ok: true, dropped: 'by fast-json-stringify' }),
    );
    const ext = await app.inject({ method: 'POST', url: '/ext', payload: { count: '7', extra: 1 } });
    expect(ext.json()).toEqual({ got: { Count: '7', extra: 1 } });
    const bad = await app.inject({ method: 'POST', url: '/ext', payload: { count: 'seven' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toBe('Count must be a whole number.');
    expect((await app.inject({ method: 'POST', url: '/plain', payload: {} })).json().code).toBe('FST_ERR_VALIDATION');
    expect((await app.inject({ method: 'POST', url: '/plain', payload: { Count: 1 } })).json()).toEqual({ ok: true });
    await app.close();
  });
});

describe('over HTTP', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('a type the schema refuses answers 400 ValidationFailed in Keyfactor’s shape, and creates nothing', async () => {
    const before = (await t.call('GET', '/KeyfactorAPI/Security/Roles')).body.length;
    const res = await t.call('POST', '/KeyfactorAPI/Security/Roles', { body: { name: 'Schema-checked', description: 'd', identities: [{ accountname: 42 }] } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ ErrorCode: '0xA5C00003', Message: 'Identities[0].AccountName must be a string.' });
    expect((await t.call('GET', '/KeyfactorAPI/Security/Roles')).body.length).toBe(before);
  });

  it('names in any casing are taken as Keyfactor’s', async () => {
    const res = await t.call('POST', '/KeyfactorAPI/Security/Roles', { body: { NAME: 'Any casing', description: 'd', eNaBlEd: 'false' } });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ Name: 'Any casing', Description: 'd', Enabled: false });
  });

  it('answers are sent as the handlers made them (response schemas document, they do not filter)', async () => {
    // History is not in Keyfactor's InstanceResponse (additionalProperties: false): it is still sent.
    const def = await publishedDefinition(t, [noop('StartNOOP', 'EndNOOP'), noop('EndNOOP')]);
    const started = await t.call('POST', '/KeyfactorAPI/Workflow/Instances', { body: { DefinitionId: def } });
    expect(started.status, started.text).toBe(201);
    const read = await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${started.body.Id}?includeHistory=true`, { unchecked: true });
    expect(Array.isArray(read.body.History)).toBe(true);
    const res = await t.call('GET', '/KeyfactorAPI/Status/HealthCheck', { unchecked: true });
    expect(res.status).toBe(204);
    const version = await t.call('GET', '/healthz', { unchecked: true });
    expect(version.body).toEqual({ status: 'ok' });
  });
});
