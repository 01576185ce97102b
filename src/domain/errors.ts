/**
 * The error catalogue. Every error a client can see has a stable code, an HTTP status and a
 * human message. Codes follow Keyfactor's hexadecimal style; docs/errors.md lists them all and
 * a test fails if one is missing there.
 */
export const ERRORS = {
  MissingRequestedWithHeader: { code: '0xA5C00001', status: 400 },
  InvalidJson: { code: '0xA5C00002', status: 400 },
  ValidationFailed: { code: '0xA5C00003', status: 400 },
  InvalidId: { code: '0xA5C00004', status: 400 },
  InvalidQuery: { code: '0xA5C00005', status: 400 },
  Unauthenticated: { code: '0xA5C00010', status: 401 },
  Forbidden: { code: '0xA5C00011', status: 403 },
  TooManyAttempts: { code: '0xA5C00012', status: 429 },
  NotFound: { code: '0xA5C00020', status: 404 },
  RouteNotFound: { code: '0xA5C00021', status: 404 },
  MethodNotAllowed: { code: '0xA5C00022', status: 405 },
  UnsupportedMediaType: { code: '0xA5C00023', status: 415 },
  PayloadTooLarge: { code: '0xA5C00024', status: 413 },
  Conflict: { code: '0xA5C00030', status: 409 },
  DefinitionInvalid: { code: '0xA5C00040', status: 400 },
  DefinitionBindingTaken: { code: '0xA5C00041', status: 400 },
  DefinitionNotPublished: { code: '0xA5C00042', status: 400 },
  DefinitionDisabled: { code: '0xA5C00043', status: 400 },
  DefinitionInUse: { code: '0xA5C00044', status: 409 },
  InstanceWrongState: { code: '0xA5C00050', status: 400 },
  SignalInvalid: { code: '0xA5C00051', status: 400 },
  SignalNotCurrentStep: { code: '0xA5C00052', status: 400 },
  SignalDecisionChanged: { code: '0xA5C00053', status: 409 },
  InstanceNotTerminal: { code: '0xA5C00054', status: 409 },
  IdentityExists: { code: '0xA5C00060', status: 409 },
  RoleInvalid: { code: '0xA5C00061', status: 400 },
  StoreUnavailable: { code: '0xA5C00070', status: 503 },
  CertificateRequestInvalid: { code: '0xA5C00080', status: 400 },
  EnrollmentRefused: { code: '0xA5C00081', status: 400 },
  KeyNotRecoverable: { code: '0xA5C00082', status: 404 },
  CaUnavailable: { code: '0xA5C00083', status: 503 },
  RevocationRefused: { code: '0xA5C00090', status: 400 },
  IdentityProviderUnavailable: { code: '0xA5C00091', status: 503 },
  // Extensions beyond Keyfactor (docs/approvals.md).
  IdempotencyKeyInvalid: { code: '0xA5C000B0', status: 400 },
  IdempotencyKeyReused: { code: '0xA5C000B1', status: 422 },
  IdempotencyKeyInFlight: { code: '0xA5C000B2', status: 409 },
  IdempotencyKeyOutcomeUnknown: { code: '0xA5C000B3', status: 409 },
  Internal: { code: '0xA5C000FF', status: 500 },
} as const;

export type ErrorName = keyof typeof ERRORS;

export class CountersignError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(
    readonly errorName: ErrorName,
    message: string,
  ) {
    super(message);
    this.code = ERRORS[errorName].code;
    this.status = ERRORS[errorName].status;
  }
  toJSON(): { ErrorCode: string; Message: string } {
    return { ErrorCode: this.code, Message: this.message };
  }
}

/** An error the client should retry later: answered with Retry-After (whole seconds). */
export class RetryLaterError extends CountersignError {
  constructor(
    errorName: ErrorName,
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(errorName, message);
  }
}

export const fail = (name: ErrorName, message: string): never => {
  throw new CountersignError(name, message);
};
