import { checkUrl, type EgressPolicy } from '../../domain/egress.ts';
import { bodyEncoderFor, urlComponent } from '../../domain/token-encoding.ts';
import type { Json, JsonObject } from '../../domain/types.ts';
import { ConnectFailure, EgressDenied, egressRequest, ResponseFailure, type EgressResponse } from '../support/egress-http.ts';
import { param, StepFailure, type ParamDecl, type RunEnvironment, type RunInput, type RunResult, type StepType } from '../../domain/step-type.ts';
import { stepSettings } from '../support/settings.ts';
import { excerpt, optionalString, redact, secretValue, stringOf } from '../support/support.ts';

/**
 * RESTRequest (and the call OAuthRESTRequest shares, oauth-rest.ts): one HTTP call with the step's verb, URL, headers and body;
 * the response (JSON parsed, else text) goes into the variable named by DataBucketProperty.
 * Every call carries `Idempotency-Key: <instance id>/<step>`, the same on every attempt.
 */

const VERBS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

export const restParameters: Record<string, ParamDecl> = {
  Verb: param('Verb', 'string', { required: true, potentialValues: Object.fromEntries(VERBS.map((v) => [v, v])) }),
  URL: param('URL', 'string', {
    required: true,
    tokens: true,
    encodeTokens: () => urlComponent,
    destination: 'origin',
    tooltip: 'http or https URL. Token values are percent-encoded, except a token that starts the URL or its host.',
  }),
  Headers: param('Headers', 'stringListMap', { tokens: true, default: {}, tooltip: 'Header name to list of values. Content-Type and Authorization come from their own settings.' }),
  ContentType: param('Content type', 'string', { default: 'application/json' }),
  RequestContent: param('Request content', 'string', {
    tokens: true,
    default: '',
    encodeTokens: (config) => bodyEncoderFor(typeof config.ContentType === 'string' ? config.ContentType : 'application/json'),
    tooltip: 'The body; not sent with GET or HEAD. Token values are escaped for the content type (JSON, form, XML).',
  }),
  DataBucketProperty: param('Variable to store response in', 'string', { required: true }),
  AllowCrossOriginRedirects: param('Follow redirects to other hosts', 'boolean', {
    default: false,
    tooltip: 'Off: a redirect to another scheme, host or port fails the step. On: it is followed without the custom headers and credentials.',
  }),
};

/** The destination parameters whose host must not come from a token when the step holds a secret. */
const SECRET_PARAMS = ['Password', 'client_secret'];

export function validateRest(config: JsonObject, env?: RunEnvironment): string[] {
  const problems: string[] = [];
  const verb = typeof config.Verb === 'string' ? config.Verb.trim().toUpperCase() : '';
  if (!(VERBS as readonly string[]).includes(verb)) problems.push(`Verb: must be one of ${VERBS.join(', ')}`);
  if (typeof config.DataBucketProperty === 'string' && config.DataBucketProperty.trim() === '') problems.push('DataBucketProperty: must name a variable');
  const policy = env ? stepSettings(env).egress : null;
  const holdsSecret = SECRET_PARAMS.some((p) => config[p] !== undefined && config[p] !== null && config[p] !== '');
  for (const name of ['URL', 'TokenEndpoint']) {
    const value = config[name];
    if (typeof value !== 'string' || value.trim() === '') continue;
    const problem = destinationProblem(value.trim(), policy, holdsSecret);
    if (problem) problems.push(`${name}: ${problem}`);
  }
  return problems;
}

/**
 * A URL template's scheme and host are checked when the steps are written, unless a token
 * supplies them (then only at run time). A step holding a secret must name its host literally:
 * a token there would let request data choose where the credentials go.
 */
function destinationProblem(template: string, policy: EgressPolicy | null, holdsSecret: boolean): string | null {
  const origin = /^([^:/?#]*):\/\/([^/?#]*)/.exec(template);
  if (!origin)
    return /^\$\(/.test(template) ? (holdsSecret ? 'must start with a literal http(s)://host when the step holds a secret' : null) : 'is not an absolute http or https URL';
  const [, scheme, authority] = origin;
  if (scheme.includes('$(')) return holdsSecret ? 'must start with a literal http(s)://host when the step holds a secret' : null;
  if (!/^https?$/i.test(scheme)) return `must use http or https, not ${scheme}:`;
  if (authority.includes('$(')) return holdsSecret ? 'must name its host literally when the step holds a secret (a token there would choose where the credentials go)' : null;
  if (!policy) return null;
  const decision = checkUrl(policy, `${scheme}://${authority}/`);
  return decision.ok ? null : decision.reason;
}

export const restRequestStep: StepType = {
  extensionName: 'RESTRequest',
  displayName: 'Invoke REST Request',
  description: 'Calls an HTTP API (optionally with Basic credentials) and stores the response in a variable.',
  outputs: ['continue'],
  workflowTypes: 'all',
  signals: {},
  parameters: {
    ...restParameters,
    Username: param('Username', 'string', { tooltip: 'With Password: sent as HTTP Basic credentials.' }),
    Password: param('Password', 'string', { secret: true, allowSecretReference: true }),
  },
  validate: validateRest,
  enter: () => ({ kind: 'run' }),
  run: async (input) => {
    const user = optionalString(input.config, 'Username');
    const password = secretValue(input.config, 'Password');
    const credentials = `${user ?? ''}:${password ?? ''}`;
    const authorization = user !== null || password !== null ? `Basic ${Buffer.from(credentials).toString('base64')}` : null;
    // The pair is redacted too: its Base64 is what travels in the Authorization header.
    return callRest(input, async () => authorization, password ? [password, credentials, authorization] : []);
  },
};

// --- the call --------------------------------------------------------------------------------

const MAX_REDIRECTS = 5;
export const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export async function callRest(input: RunInput, authorization: (fresh: boolean) => Promise<string | null>, secrets: (string | null)[]): Promise<RunResult> {
  const settings = stepSettings(input.env);
  const { timeoutMs, maxResponseBytes } = settings.rest;
  const verb = stringOf(input.config.Verb ?? '')
    .trim()
    .toUpperCase();
  const target = targetUrl(input.config.URL);
  const variable = stringOf(input.config.DataBucketProperty ?? '').trim();
  if (!variable) throw new StepFailure('DataBucketProperty is empty: name the variable that receives the response.', false);
  const custom: Record<string, string[]> = {};
  const configured = input.config.Headers;
  if (configured !== null && typeof configured === 'object' && !Array.isArray(configured)) {
    for (const [name, values] of Object.entries(configured)) {
      if (/^(authorization|content-type|idempotency-key|host|content-length)$/i.test(name)) continue;
      if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/i.test(name)) throw new StepFailure(`Headers: '${excerpt(name, 40)}' is not a valid HTTP header name.`, false);
      for (const v of Array.isArray(values) ? values : [values]) {
        const text = stringOf(v);
        // A line break would start another header or the body: the request is not sent.
        if (/[\r\n\0]/.test(text)) throw new StepFailure(`Headers: the value of '${excerpt(name, 40)}' contains a line break or NUL; the request was not sent.`, false);
        custom[name] = [...(custom[name] ?? []), text.trim()];
      }
    }
  }
  const base: Record<string, string> = { 'Idempotency-Key': input.idempotencyKey };
  if (!Object.keys(custom).some((h) => h.toLowerCase() === 'accept')) base.Accept = 'application/json, text/plain;q=0.9, */*;q=0.5';
  const content = stringOf(input.config.RequestContent ?? '');
  const withBody = verb !== 'GET' && verb !== 'HEAD' && content !== '';
  const contentType = stringOf(input.config.ContentType ?? '') || 'application/json';
  const allowCrossOrigin = input.config.AllowCrossOriginRedirects === true || /^true$/i.test(stringOf(input.config.AllowCrossOriginRedirects ?? ''));
  const where = `${verb} ${target.origin}${target.pathname}`;

  let auth = await authorization(false);
  for (let tryNo = 0; ; tryNo++) {
    let url = target;
    let method = verb;
    let body = withBody ? content : undefined;
    let crossed = false;
    let res: EgressResponse;
    for (let hop = 0; ; hop++) {
      // After a redirect to another origin only our own headers go along: no custom headers, no credentials.
      const headers: Record<string, string | string[]> = crossed ? { ...base } : { ...custom, ...base, ...(auth ? { Authorization: auth } : {}) };
      if (body !== undefined) headers['Content-Type'] = contentType;
      try {
        res = await egressRequest(settings.egress, { url, method, headers, body, signal: AbortSignal.any([input.signal, AbortSignal.timeout(timeoutMs)]), maxResponseBytes });
      } catch (err) {
        throw requestFailure(err, where, maxResponseBytes, secrets);
      }
      const location = res.headers.location;
      if (!REDIRECTS.has(res.status) || !location) break;
      if (hop >= MAX_REDIRECTS) throw new StepFailure(`${where} was redirected more than ${MAX_REDIRECTS} times.`, false);
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new StepFailure(`${where} answered ${res.status} with an invalid Location.`, false);
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:')
        throw new StepFailure(`${where} was redirected to a ${next.protocol} URL; only http and https are followed.`, false);
      if (next.origin !== url.origin) {
        if (!allowCrossOrigin)
          throw new StepFailure(
            `${where} was redirected to another origin (${next.origin}); it was not followed. Set AllowCrossOriginRedirects to follow such redirects (without custom headers and credentials).`,
            false,
          );
        crossed = true;
      }
      // As browsers do: 303, and 301/302 after a POST, continue as GET without the body.
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = method === 'HEAD' ? 'HEAD' : 'GET';
        body = undefined;
      }
      url = next;
    }
    // A cached token the API no longer accepts (revoked, rotated): fetch a new one once.
    if (res.status === 401 && tryNo === 0 && !crossed && auth?.startsWith('Bearer ')) {
      auth = await authorization(true);
      continue;
    }
    const text = res.text;
    if (res.status === 429 || res.status >= 500) throw new StepFailure(`${where} answered ${res.status}${bodyNote(text, secrets)}.`, true);
    if (res.status >= 300) throw new StepFailure(`${where} answered ${res.status}${bodyNote(text, secrets)}.`, false);
    return { variables: { [variable]: parseBody(text) }, message: `${where} answered ${res.status}; the response is in $(${variable}).` };
  }
}

function targetUrl(raw: Json | undefined): URL {
  const text = stringOf(raw ?? '').trim();
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new StepFailure(`URL '${excerpt(text, 120)}' is not an absolute URL.`, false);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new StepFailure(`URL must use http or https, not ${url.protocol}`, false);
  if (url.username || url.password) throw new StepFailure('URL must not carry credentials; use Username and Password.', false);
  return url;
}

const bodyNote = (text: string, secrets: (string | null)[]): string => (text.trim() ? `: ${redact(excerpt(text, 200), secrets)}` : '');

/** JSON when it parses (whatever the content type says), else the text; no body is null. */
export function parseBody(text: string): Json {
  if (text === '') return null;
  if (/^\s*[[{"\d\-tfn]/.test(text)) {
    try {
      return JSON.parse(text) as Json;
    } catch {
      /* not JSON */
    }
  }
  return text;
}

/**
 * Failures without a response read the same whether the port was closed, filtered or reset, so
 * a step cannot be used to scan ports; a denied destination says so.
 */
export function requestFailure(err: unknown, where: string, maxBytes: number, secrets: (string | null)[]): StepFailure {
  if (err instanceof StepFailure) return err;
  if (err instanceof EgressDenied) return new StepFailure(`${where} is not allowed: ${err.message}.`, false);
  if (err instanceof ConnectFailure) return new StepFailure(`${where}: ${err.message}.`, true);
  if (err instanceof ResponseFailure && err.tooLarge)
    return new StepFailure(`${where} answered with more than ${maxBytes} bytes; the limit is COUNTERSIGN_REST_MAX_RESPONSE_BYTES.`, false);
  const why = err instanceof Error ? err.message : String(err);
  return new StepFailure(redact(`${where} failed: ${why}.`, secrets), true);
}
