/**
 * Regenerates test/contract/keyfactor-*.json, the facts of Keyfactor Command's published OpenAPI
 * documents that the tests check responses against: the paths we implement (or are about to),
 * their parameters, request bodies, responses and every schema they reference. Descriptions,
 * summaries, examples and tags are dropped; what is left is wire facts (names, types, formats,
 * enums, required, nullable, status codes, media types).
 *
 *   npm run contract:update                     # reads ../shared/keyfactor (beside the repository)
 *   npm run contract:update -- /path/to/folder  # reads openapi-*.json from another folder
 *
 * The tests read only the committed output, so a clone runs them without the source folder.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/**
 * The paths kept: a path is kept when it equals an entry or starts with an entry followed by '/'.
 * To cover more of Keyfactor's API, add its path (or prefix) here and run `npm run contract:update`.
 */
export const KEPT_PATHS = [
  // Workflow engine (definitions, instances, signals, certificate workflows).
  '/Workflow',
  // Security: identities, roles, claims, permission sets, status.
  '/Security',
  '/PermissionSets',
  '/Permissions',
  '/Status',
  // The certificate API (enrollment, certificates, CAs, templates, alerts) and the audit log.
  '/Enrollment',
  '/EnrollmentPatterns',
  '/Certificates',
  '/CertificateAuthority',
  '/CertificateCollections',
  '/Templates',
  '/MetadataFields',
  '/Alerts/Expiration',
  '/Audit',
];

/** Source file -> committed file. */
export const FILES: Record<string, string> = {
  'openapi-workflow.json': 'keyfactor-workflow.json',
  'openapi-security.json': 'keyfactor-security.json',
  'openapi-certificates.json': 'keyfactor-certificates.json',
  'openapi-audit-more.json': 'keyfactor-audit-more.json',
};

/** Prose and annotations: not facts a response is checked against. */
const DROPPED = new Set(['description', 'summary', 'example', 'examples', 'tags', 'externalDocs', 'x-kf-source']);
/** Keys whose value maps names (chosen by the API's authors) to objects: their keys are never dropped. */
const NAME_MAPS = new Set(['properties', 'schemas', 'paths', 'responses', 'content', 'headers', 'securitySchemes', 'parameters', 'requestBodies', 'patternProperties']);

export function keepPath(p: string): boolean {
  return KEPT_PATHS.some((k) => p === k || p.startsWith(`${k}/`));
}

/** A copy of `node` without prose; `isNameMap` says `node`'s own keys are names, not keywords. */
export function stripProse(node: Json, isNameMap = false): Json {
  if (Array.isArray(node)) return node.map((n) => stripProse(n));
  if (node === null || typeof node !== 'object') return node;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (!isNameMap && DROPPED.has(key)) continue;
    // `parameters` is a name map under components but a list in an operation: arrays are never maps.
    out[key] = stripProse(value, !isNameMap && NAME_MAPS.has(key) && !Array.isArray(value));
  }
  return out;
}

/** Every local `#/components/<kind>/<name>` referenced from `node`. */
function refsIn(node: Json, into: Set<string>): void {
  if (Array.isArray(node)) for (const n of node) refsIn(n, into);
  else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string' && v.startsWith('#/components/')) into.add(v);
      else refsIn(v, into);
    }
  }
}

function resolveLocal(document: JsonObject, ref: string): Json | undefined {
  let node: Json | undefined = document;
  for (const raw of ref.slice(2).split('/')) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
    node = node[part];
  }
  return node;
}

/** One OpenAPI document reduced to the kept paths and the components they reach ($ref closure). */
export function reduceDocument(document: JsonObject): JsonObject {
  const paths = Object.fromEntries(Object.entries((document.paths ?? {}) as JsonObject).filter(([p]) => keepPath(p)));
  const reached = new Set<string>();
  const queue = new Set<string>();
  refsIn(paths, queue);
  // Security schemes are named by operations' `security`, not by $ref.
  const components: Record<string, JsonObject> = {};
  while (queue.size > 0) {
    const ref = queue.values().next().value as string;
    queue.delete(ref);
    if (reached.has(ref)) continue;
    reached.add(ref);
    const target = resolveLocal(document, ref);
    if (target === undefined) throw new Error(`unresolvable $ref ${ref}`);
    const [, , kind, ...rest] = ref.split('/');
    const name = rest.join('/').replace(/~1/g, '/').replace(/~0/g, '~');
    const ofKind = components[kind!] ?? {};
    components[kind!] = ofKind;
    ofKind[name] = target;
    const next = new Set<string>();
    refsIn(target, next);
    for (const r of next) if (!reached.has(r)) queue.add(r);
  }
  const schemes = (document.components as JsonObject | undefined)?.securitySchemes;
  if (schemes) components.securitySchemes = schemes as JsonObject;
  const sorted = (o: JsonObject): JsonObject => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const info = (document.info ?? {}) as JsonObject;
  return stripProse({
    openapi: document.openapi ?? '3.0.1',
    info: { title: info.title ?? '', version: info.version ?? '' },
    paths: sorted(paths),
    components: Object.fromEntries(
      Object.entries(components)
        .sort()
        .map(([k, v]) => [k, sorted(v)]),
    ),
  }) as JsonObject;
}

function main(): void {
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const sourceDir = path.resolve(process.argv[2] ?? path.join(repoRoot, '../shared/keyfactor'));
  const outDir = path.join(repoRoot, 'test', 'contract');
  mkdirSync(outDir, { recursive: true });
  for (const [source, target] of Object.entries(FILES)) {
    const file = path.join(sourceDir, source);
    if (!existsSync(file)) throw new Error(`${file} is missing: pass the folder holding Keyfactor's openapi-*.json as the first argument.`);
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { documents: Record<string, JsonObject> };
    const documents: JsonObject = {};
    const counts: string[] = [];
    for (const [key, document] of Object.entries(parsed.documents)) {
      const reduced = reduceDocument(document);
      documents[key] = reduced;
      const c = reduced.components as Record<string, JsonObject>;
      counts.push(`${key}: ${Object.keys(reduced.paths as JsonObject).length} paths, ${Object.keys(c.schemas ?? {}).length} schemas`);
    }
    const output = {
      _meta: {
        what: "Facts from Keyfactor Command's published OpenAPI documents (paths, parameters, bodies, responses, schemas; prose removed), for checking Countersign's responses in tests.",
        source: `${source} (extracted from Keyfactor's public, Apache-2.0 SDK repositories: Keyfactor/keyfactor-go-client-sdk, Keyfactor/keyfactor-java-client-sdk)`,
        generator: 'scripts/contract-facts.ts (npm run contract:update); do not edit by hand',
        keptPaths: KEPT_PATHS,
      },
      documents,
    };
    writeFileSync(path.join(outDir, target), `${JSON.stringify(output, null, 1)}\n`);
    console.log(`${path.join('test', 'contract', target)} <- ${file}\n  ${counts.join('\n  ')}`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (err) {
    console.error(`contract:update: ${(err as Error).message}`);
    process.exit(1);
  }
}
