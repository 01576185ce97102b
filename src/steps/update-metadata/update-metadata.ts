import { resolvesFromTrusted, resolveValue, trustedOnly } from '../../domain/tokens.ts';
import { param, type StepType } from '../../domain/step-type.ts';

/** Sets a metadata field on the instance's subject; pure, so it runs inside the transition. */
export const updateMetadataStep: StepType = {
  extensionName: 'UpdateMetadata',
  displayName: 'Update Certificate Metadata',
  description: 'Sets a metadata field on the subject certificate, readable later as $(metadata:Name).',
  outputs: ['continue'],
  workflowTypes: 'all',
  parameters: {
    Name: param('Metadata field', 'string', { required: true }),
    Value: param('Value', 'string', { required: true, tokens: true }),
  },
  signals: {},
  enter: ({ step, scope }) => {
    const name = String(step.config.Name);
    const value = step.config.Value ?? '';
    // A value that needs requester data (or anything unresolved) is not trusted: it must not
    // become a role or an approval condition.
    const trusted = resolvesFromTrusted(value, scope) ? { [name]: resolveValue(value, trustedOnly(scope)) } : {};
    return { kind: 'continue', metadata: { [name]: resolveValue(value, scope) }, trusted: { metadata: trusted } };
  },
};
