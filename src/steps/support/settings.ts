import { DEFAULT_EGRESS_POLICY, type EgressPolicy } from '../../domain/egress.ts';
import type { RunEnvironment } from '../../domain/step-type.ts';

/**
 * Server-wide settings the automatic step executors use. They come from the environment
 * (src/config.ts, docs/configuration.md) and reach executors through the RunEnvironment.
 */

/** How the SMTP connection is protected. */
export type SmtpSecurity = 'tls' | 'starttls' | 'opportunistic' | 'none';

export interface SmtpSettings {
  host: string;
  port: number;
  security: SmtpSecurity;
  /** Verify the server's certificate (turn off only for test relays with self-signed certificates). */
  rejectUnauthorized: boolean;
  user: string | null;
  /** Secret: never logged, never put in a message. */
  password: string | null;
  /** The From address, e.g. `Countersign <pki@example.com>`. */
  from: string;
  /** Connection, greeting and socket timeout. */
  timeoutMs: number;
}

export interface ScriptLimits {
  /** Wall-clock limit for one run (Script and PowerShell); the run is stopped after it. */
  timeoutMs: number;
  /** Script steps: the QuickJS heap limit of one run. */
  memoryMb: number;
  /** Most bytes a PowerShell process may print, or a Script run may log and return together. */
  maxOutputBytes: number;
}

export interface StepSettings {
  /** Null: no mail server configured, Email steps fail saying so. */
  smtp: SmtpSettings | null;
  /** Path of the PowerShell executable (pwsh); null: PowerShell steps fail saying so. */
  pwshPath: string | null;
  script: ScriptLimits;
  rest: {
    /** Per-request timeout for REST steps and token endpoints. */
    timeoutMs: number;
    /** Most bytes of a response body kept. */
    maxResponseBytes: number;
  };
  /** Where REST steps may connect (COUNTERSIGN_EGRESS_ALLOW / _DENY); public addresses only by default. */
  egress: EgressPolicy;
}

export const DEFAULT_STEP_SETTINGS: StepSettings = {
  smtp: null,
  pwshPath: null,
  script: { timeoutMs: 10_000, memoryMb: 64, maxOutputBytes: 1024 * 1024 },
  rest: { timeoutMs: 20_000, maxResponseBytes: 5 * 1024 * 1024 },
  egress: DEFAULT_EGRESS_POLICY,
};

/** The RunEnvironment key the settings are stored under. */
const KEY = 'stepSettings';

export function runEnvironment(settings: Partial<StepSettings> = {}): RunEnvironment {
  return {
    [KEY]: {
      ...DEFAULT_STEP_SETTINGS,
      ...settings,
      script: { ...DEFAULT_STEP_SETTINGS.script, ...settings.script },
      rest: { ...DEFAULT_STEP_SETTINGS.rest, ...settings.rest },
    } satisfies StepSettings,
  };
}

/** The settings in an environment; defaults (nothing configured) when it has none. */
export function stepSettings(env: RunEnvironment): StepSettings {
  const s = env[KEY] as StepSettings | undefined;
  return s ?? DEFAULT_STEP_SETTINGS;
}
