import type { RunEnvironment, StepType } from './step-type.ts';

/** Step types by ExtensionName. Lookups are case-sensitive, as ExtensionNames are on the wire. */
export class StepRegistry {
  private readonly types = new Map<string, StepType>();
  constructor(
    types: StepType[],
    /** The server's settings, for validation that depends on them (the REST egress policy). */
    readonly env?: RunEnvironment,
  ) {
    for (const t of types) this.types.set(t.extensionName, t);
  }
  get(name: string): StepType | undefined {
    return this.types.get(name);
  }
  all(): StepType[] {
    return [...this.types.values()];
  }
}
