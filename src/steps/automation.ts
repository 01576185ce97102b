import { param, type StepType } from './plugin.ts';

/*
 * Step types with side effects (email, HTTP, scripts). They are declared here so that real
 * exports validate and the catalogue describes them; their enter() hands the work to the
 * runner ({kind: 'run'}), which executes the step type's executor outside any transaction.
 */

const automatic = (t: Omit<StepType, 'outputs' | 'workflowTypes' | 'signals' | 'enter'>): StepType => ({
  ...t,
  outputs: ['continue'],
  workflowTypes: 'all',
  signals: {},
  enter: () => ({ kind: 'run' }),
});

export const emailStep = automatic({
  extensionName: 'Email',
  displayName: 'Send Email',
  description: 'Sends an email message.',
  parameters: {
    Subject: param('Subject', 'string', { required: true, tokens: true }),
    Message: param('Message', 'html', { required: true, tokens: true }),
    Recipients: param('Recipients', 'stringList', { required: true, tokens: true, tooltip: 'Addresses or tokens; a token holding a list expands to several recipients.' }),
  },
});

const restParameters = {
  Verb: param('Verb', 'string', { required: true, potentialValues: { GET: 'GET', POST: 'POST', PUT: 'PUT', PATCH: 'PATCH', DELETE: 'DELETE' } }),
  URL: param('URL', 'string', { required: true, tokens: true }),
  Headers: param('Headers', 'stringListMap', { tokens: true, default: {} }),
  ContentType: param('Content type', 'string', { default: 'application/json' }),
  RequestContent: param('Request content', 'string', { tokens: true }),
  DataBucketProperty: param('Variable to store response in', 'string', { required: true }),
};

export const restRequestStep = automatic({
  extensionName: 'RESTRequest',
  displayName: 'Invoke REST Request',
  description: 'Calls an HTTP API with Basic credentials and stores the JSON response in a variable.',
  parameters: {
    ...restParameters,
    Username: param('Username', 'string', {}),
    Password: param('Password', 'string', { secret: true, allowSecretReference: true }),
  },
});

export const oauthRestRequestStep = automatic({
  extensionName: 'OAuthRESTRequest',
  displayName: 'Invoke REST Request (OAuth)',
  description: 'Calls an HTTP API with an OAuth client-credentials token and stores the JSON response in a variable.',
  parameters: {
    ...restParameters,
    client_id: param('Client ID', 'string', {}),
    client_secret: param('Client secret', 'string', { secret: true, allowSecretReference: true }),
    TokenEndpoint: param('Token endpoint', 'string', {}),
    scope: param('Scope', 'string', {}),
    audience: param('Audience', 'string', {}),
  },
});

export const powerShellStep = automatic({
  extensionName: 'PowerShell',
  displayName: 'Set Variable Data',
  description: 'Runs an inline PowerShell script; the keys of the hashtable it returns become variables.',
  parameters: {
    ScriptContent: param('Script content', 'string', { required: true }),
    ScriptParameters: param('Script parameters', 'stringMap', { tokens: true, default: {} }),
  },
});

export const scriptStep = automatic({
  extensionName: 'Script',
  displayName: 'Run JavaScript',
  description: 'Runs JavaScript in a separate, time- and memory-limited process; the object it returns becomes variables.',
  parameters: {
    ScriptContent: param('Script content', 'string', { required: true }),
    ScriptParameters: param('Script parameters', 'stringMap', { tokens: true, default: {} }),
  },
});
