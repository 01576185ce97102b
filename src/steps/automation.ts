/*
 * Step types with side effects (email, HTTP, scripts). Each lives in its own file; their
 * enter() hands the work to the runner ({kind: 'run'}), which calls run() outside any
 * transaction with tokens already resolved (docs/steps.md).
 */
export { emailStep } from './email.ts';
export { oauthRestRequestStep, restRequestStep } from './rest.ts';
export { powerShellStep } from './powershell.ts';
export { scriptStep } from './script.ts';
