import { param, type StepType } from '../../domain/step-type.ts';

/**
 * Renews the expiring certificate through a CA connector. No CA connector exists yet, so
 * entering the step fails the instance with a message that says exactly that.
 */
export const expirationRenewalStep: StepType = {
  extensionName: 'ExpirationRenewal',
  displayName: 'Expiration Renewal',
  description: 'Renews the expiring certificate (Expiration workflows only).',
  outputs: ['continue'],
  workflowTypes: ['Expiration'],
  parameters: {
    Template: param('Template', 'string', { default: '' }),
    CA: param('Certificate authority', 'string', { default: '' }),
    PushToCertStore: param('Push to certificate stores', 'boolean', { default: true }),
  },
  signals: {},
  enter: () => ({
    kind: 'fail',
    message: 'ExpirationRenewal cannot run: no CA connector is configured on this Countersign server.',
  }),
};
