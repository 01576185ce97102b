import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servedRoutes } from '../../src/api/api-docs.ts';
import { KEYFACTOR_OPERATIONS } from '../../src/api/schema/keyfactor.generated.ts';
import { keyfactorOperation } from '../../src/api/schema/routes.ts';
import { contractDir } from '../support/openapi.ts';
import { startTestApp, type TestApp } from '../support/server.ts';

/*
 * The OpenAPI document Countersign serves: open without credentials, listing every route the
 * server registers, each either one of Keyfactor's operations with Keyfactor's own schemas (as
 * committed in test/contract/keyfactor-*.json, read here independently of the generated TypeBox
 * module) or marked as a Countersign extension.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };
const DOC_URL = '/KeyfactorAPI/swagger/v1/swagger.json';
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

interface KfDoc {
  paths: Record<string, Record<string, Obj>>;
  components?: { schemas?: Record<string, Obj> };
}

const contract = (source: string): KfDoc =>
  (JSON.parse(readFileSync(path.join(contractDir(), `keyfactor-${source}.json`), 'utf8')) as { documents: Record<string, KfDoc> }).documents['command-v25-api-v1']!;

/**
 * What must agree between two schemas: property names, types, formats, nullability, items and
 * map values, $refs resolved (a cycle reads as the component's name). Prose, titles and defaults
 * are not compared.
 */
function shape(s: Json | undefined, doc: KfDoc | null, seen: string[] = []): Json {
  if (!s || typeof s !== 'object' || Array.isArray(s)) return 'any';
  const o = s as Obj;
  if (typeof o.$ref === 'string') {
    const name = o.$ref.replace('#/components/schemas/', '');
    if (seen.includes(name)) return `recursive:${name}`;
    const target = doc?.components?.schemas?.[name];
    return withNull(shape(target, doc, [...seen, name]), o.nullable === true);
  }
  if (Array.isArray(o.allOf) && o.allOf.length === 1) return withNull(shape(o.allOf[0], doc, seen), o.nullable === true);
  // Countersign's document inlines components, named by their title: a cycle is found the same way.
  if (typeof o.title === 'string') seen = [...seen, o.title];
  let out: Json;
  if (o.type === 'array') out = { array: shape(o.items, doc, seen) };
  else if (o.type === 'object' || o.properties || (o.additionalProperties && typeof o.additionalProperties === 'object')) {
    const props = Object.fromEntries(
      Object.entries((o.properties as Obj | undefined) ?? {})
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, shape(v, doc, seen)]),
    );
    const ap = o.additionalProperties;
    out = { object: props, ...(ap && typeof ap === 'object' && Object.keys(ap).some((k) => k !== 'nullable') ? { values: shape(ap, doc, seen) } : {}) };
  } else if (typeof o.type === 'string') out = `${o.type}${o.format ? `:${o.format}` : ''}${Array.isArray(o.enum) ? `[${(o.enum as Json[]).join(',')}]` : ''}`;
  else out = 'any';
  return withNull(out, o.nullable === true);
}

const withNull = (s: Json, nullable: boolean): Json => (nullable ? { nullable: s } : s);

const jsonSchemaOf = (content: Json | undefined): Json | undefined => {
  const c = content as Record<string, Obj> | undefined;
  return c ? (c['application/json'] ?? c['text/json'] ?? Object.values(c)[0])?.schema : undefined;
};

const params = (op: Obj, where: string): Obj[] => ((op.parameters as Obj[] | undefined) ?? []).filter((p) => p.in === where);

/** Fastify's `:id` pattern as the document writes it. */
const openapiPath = (url: string): string => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

let t: TestApp;
let doc: { openapi: string; paths: Record<string, Record<string, Obj>>; components: Obj; security: Json };

beforeAll(async () => {
  t = await startTestApp();
  const res = await fetch(`${t.url}${DOC_URL}`);
  expect(res.status).toBe(200);
  doc = (await res.json()) as typeof doc;
});
afterAll(async () => {
  await t?.close();
});

describe('the OpenAPI document', () => {
  it('is served without credentials and without the Keyfactor header, at Keyfactor’s address and beside Swagger UI', async () => {
    expect(doc.openapi).toBe('3.0.4');
    expect(doc.components.securitySchemes).toEqual({ basic: { type: 'http', scheme: 'basic' } });
    expect(doc.security).toEqual([{ basic: [] }]);
    const lower = await fetch(`${t.url}${DOC_URL.toLowerCase()}`);
    expect(lower.status).toBe(200);
    const ui = await fetch(`${t.url}/KeyfactorAPI/swagger/json`);
    expect(await ui.json()).toEqual(doc);
    const page = await fetch(`${t.url}/KeyfactorAPI/swagger/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('swagger-ui');
  });

  it('the API itself still needs credentials: the calls made from the document authenticate as usual', async () => {
    const res = await fetch(`${t.url}/KeyfactorAPI/Workflow/Definitions`, { headers: { 'x-keyfactor-requested-with': 'APIClient' } });
    expect(res.status).toBe(401);
  });

  it('lists every route the server registered (nothing undocumented), each Keyfactor’s or a marked extension', () => {
    const routes = servedRoutes(t.server.app);
    const visible = routes.filter((r) => !r.hidden);
    expect(visible.length).toBeGreaterThan(60);
    const missing = visible.filter((r) => !doc.paths[openapiPath(r.url)]?.[r.method.toLowerCase()]);
    expect(missing).toEqual([]);
    const unmarked: string[] = [];
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const [m, op] of Object.entries(item)) {
        const keyfactor = typeof op['x-keyfactor-path'] === 'string';
        const ext = op['x-countersign-extension'] === true && (op.tags as string[]).includes('Countersign extensions');
        if (keyfactor === ext) unmarked.push(`${m.toUpperCase()} ${p}`);
        // Every call under /KeyfactorAPI needs the Keyfactor header: the document says so for each.
        if (p.startsWith('/KeyfactorAPI/')) {
          const header = params(op, 'header').find((x) => x.name === 'x-keyfactor-requested-with');
          expect(header?.required, `${m.toUpperCase()} ${p}: x-keyfactor-requested-with`).toBe(true);
          expect((header?.schema as Obj | undefined)?.default, `${m.toUpperCase()} ${p}`).toBe('APIClient');
        }
      }
    }
    expect(unmarked).toEqual([]);
    // Hidden (always on purpose: PAGES in api-docs.ts, or a route's own { hide: true }): here,
    // pages for people, HEAD twins and Swagger UI's own files; no Keyfactor operation.
    const hidden = routes.filter((r) => r.hidden && r.method !== 'HEAD');
    expect(hidden.map((r) => r.url)).toEqual(
      expect.arrayContaining(['/KeyfactorPortal', '/Countersign/Act/:token', '/KeyfactorAPI/swagger', '/KeyfactorAPI/swagger/v1/swagger.json']),
    );
    for (const r of hidden) expect(keyfactorOperation(r.method, r.url), `${r.method} ${r.url}`).toBeUndefined();
  });

  it('every Keyfactor operation served has Keyfactor’s parameters, request body and responses (names and types)', () => {
    let compared = 0;
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const [m, ours] of Object.entries(item)) {
        const ourDoc = doc as unknown as KfDoc;
        const kfPath = ours['x-keyfactor-path'];
        if (typeof kfPath !== 'string') continue;
        const key = `${m.toUpperCase()} ${kfPath}`;
        const source = KEYFACTOR_OPERATIONS[key]?.source;
        expect(source, key).toBeDefined();
        const kfDoc = contract(source!);
        const theirs = kfDoc.paths[kfPath]?.[m];
        expect(theirs, `${key} is in Keyfactor's document`).toBeDefined();
        const what = `${m.toUpperCase()} ${p} (Keyfactor's ${kfPath})`;

        // Path parameters by position (the route names them its own way), query and headers by name.
        const pathParams = (op: Obj, d: KfDoc | null) => params(op, 'path').map((x) => shape(x.schema, d));
        const routeOrder = [...p.matchAll(/\{([^}]+)\}/g)].map((x) => x[1]);
        const oursByName = Object.fromEntries(params(ours, 'path').map((x) => [x.name as string, shape(x.schema, null)]));
        expect(
          routeOrder.map((n) => oursByName[n!]),
          `${what}: path parameters`,
        ).toEqual(pathParams(theirs!, kfDoc));
        for (const where of ['query', 'header']) {
          const named = (op: Obj, d: KfDoc | null) =>
            Object.fromEntries(
              params(op, where)
                .map((x) => [(x.name as string).toLowerCase(), { type: shape(x.schema, d), required: x.required === true }])
                .sort(([a], [b]) => String(a).localeCompare(String(b))),
            );
          expect(named(ours, null), `${what}: ${where} parameters`).toEqual(named(theirs!, kfDoc));
        }
        const theirBody = jsonSchemaOf((theirs!.requestBody as Obj | undefined)?.content);
        const ourBody = jsonSchemaOf((ours.requestBody as Obj | undefined)?.content);
        expect(shape(ourBody, ourDoc), `${what}: request body`).toEqual(theirBody ? shape(theirBody, kfDoc) : 'any');

        for (const [status, r] of Object.entries(theirs!.responses as Record<string, Obj>)) {
          const ourResponse = (ours.responses as Record<string, Obj> | undefined)?.[status];
          expect(ourResponse, `${what}: response ${status}`).toBeDefined();
          const theirSchema = jsonSchemaOf(r.content);
          expect(shape(jsonSchemaOf(ourResponse!.content), ourDoc), `${what}: response ${status}`).toEqual(theirSchema ? shape(theirSchema, kfDoc) : 'any');
        }
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(55);
  });

  it('the generated module covers every operation of the committed contract (npm run schemas:update after contract:update)', () => {
    for (const source of ['workflow', 'security', 'certificates', 'audit-more']) {
      const kf = contract(source);
      for (const [p, item] of Object.entries(kf.paths))
        for (const m of METHODS) if (item[m]) expect(KEYFACTOR_OPERATIONS[`${m.toUpperCase()} ${p}`], `${m.toUpperCase()} ${p}`).toBeDefined();
    }
  });
});
