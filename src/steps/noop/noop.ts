import type { StepType } from '../../domain/step-type.ts';

/** Start and end markers: they do nothing. */
export const noopStep: StepType = {
  extensionName: 'NOOPStep',
  displayName: 'NOOP Step',
  description: 'Entry or exit marker that does nothing.',
  outputs: ['continue'],
  workflowTypes: 'all',
  parameters: {},
  signals: {},
  enter: () => ({ kind: 'continue' }),
};
