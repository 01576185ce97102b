import { StepFailure, param, type RunInput, type RunResult, type StepType } from '../../domain/step-type.ts';
import type { Instance } from '../../domain/types.ts';

/** What the step needs from the server: renewing the certificate an Expiration instance is about. */
export interface InstanceRenewer {
  renewForInstance(instance: Instance, config: { template: string | null; ca: string | null }): Promise<RunResult>;
}

/** The key under which the server puts the renewal service into the runners' environment. */
export const RENEWAL_ENV = 'renewal';

const text = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null);

/**
 * Keyfactor's ExpirationRenewal: renews the certificate the Expiration instance was started for,
 * through its CA, with the same template, subject and SANs (Template and CA, when not empty, name
 * others). Renewal is idempotent per instance, so the runner's retries renew once. A renewal the
 * template refuses fails the instance; a CA that cannot sign is retried.
 */
export const expirationRenewalStep: StepType = {
  extensionName: 'ExpirationRenewal',
  displayName: 'Expiration Renewal',
  description: 'Renews the expiring certificate through its certificate authority (Expiration workflows only).',
  outputs: ['continue'],
  workflowTypes: ['Expiration'],
  parameters: {
    Template: param('Template', 'string', { default: '' }),
    CA: param('Certificate authority', 'string', { default: '' }),
    PushToCertStore: param('Push to certificate stores', 'boolean', { default: true }),
  },
  signals: {},
  enter: () => ({ kind: 'run' }),
  async run(input: RunInput): Promise<RunResult> {
    const renewal = input.env[RENEWAL_ENV] as InstanceRenewer | undefined;
    if (!renewal) throw new StepFailure('Certificate renewal is not configured on this server.', false);
    return renewal.renewForInstance(input.instance, { template: text(input.config.Template), ca: text(input.config.CA) });
  },
};
