import type { JsonObject } from '../../domain/types.ts';
import { param, StepFailure, type StepType } from '../../domain/step-type.ts';
import { stepSettings } from '../support/settings.ts';
import { excerpt, optionalString, secretValue } from '../support/support.ts';
import { callRest, restParameters, validateRest } from './rest.ts';
import { tokenCacheOf, type OAuthClient } from './token-cache.ts';

/** OAuthRESTRequest: the REST call with a client-credentials bearer token (cached, token-cache.ts). */
export const oauthRestRequestStep: StepType = {
  extensionName: 'OAuthRESTRequest',
  displayName: 'Invoke REST Request (OAuth)',
  description: 'Calls an HTTP API with an OAuth client-credentials token and stores the response in a variable.',
  outputs: ['continue'],
  workflowTypes: 'all',
  signals: {},
  parameters: {
    ...restParameters,
    client_id: param('Client ID', 'string', {}),
    client_secret: param('Client secret', 'string', { secret: true, allowSecretReference: true }),
    TokenEndpoint: param('Token endpoint', 'string', {
      destination: 'url',
      tooltip: 'The OAuth 2.0 token URL, e.g. https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token.',
    }),
    scope: param('Scope', 'string', {}),
    audience: param('Audience', 'string', {}),
  },
  validate: validateRest,
  enter: () => ({ kind: 'run' }),
  run: async (input) => {
    const client = oauthClient(input.config);
    const cache = tokenCacheOf(input.env);
    const settings = stepSettings(input.env);
    const secrets: (string | null)[] = [client.secret];
    const bearer = async (fresh: boolean) => {
      const token = await cache.token(client, { fresh, timeoutMs: settings.rest.timeoutMs, signal: input.signal, policy: settings.egress });
      secrets.push(token);
      return `Bearer ${token}`;
    };
    return callRest(input, bearer, secrets);
  },
};

function oauthClient(config: JsonObject): OAuthClient {
  const endpoint = optionalString(config, 'TokenEndpoint');
  if (!endpoint)
    throw new StepFailure(
      'TokenEndpoint is not set: an OAuthRESTRequest step needs the OAuth token URL of its identity provider (for Microsoft Entra: https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token).',
      false,
    );
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new StepFailure(`TokenEndpoint '${excerpt(endpoint, 120)}' is not an absolute URL.`, false);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new StepFailure('TokenEndpoint must use http or https.', false);
  const id = optionalString(config, 'client_id');
  if (!id) throw new StepFailure('client_id is not set: an OAuthRESTRequest step needs the OAuth client id.', false);
  const secret = secretValue(config, 'client_secret');
  if (!secret) throw new StepFailure('client_secret is not set: an OAuthRESTRequest step needs the OAuth client secret (it is write-only: set it with PUT Steps).', false);
  return { endpoint: url.href, id, secret, scope: optionalString(config, 'scope'), audience: optionalString(config, 'audience') };
}
