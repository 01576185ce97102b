import type { AcmeIdentifier, Problem } from './types.ts';

/** RFC 8555 §6.7 error types and the HTTP status each is answered with. */
export const PROBLEM_STATUS = {
  accountDoesNotExist: 400,
  alreadyRevoked: 400,
  badCSR: 400,
  badNonce: 400,
  badPublicKey: 400,
  badRevocationReason: 400,
  badSignatureAlgorithm: 400,
  caa: 403,
  compound: 403,
  connection: 400,
  dns: 400,
  externalAccountRequired: 400,
  incorrectResponse: 403,
  invalidContact: 400,
  malformed: 400,
  orderNotReady: 403,
  rateLimited: 429,
  rejectedIdentifier: 400,
  serverInternal: 500,
  tls: 400,
  unauthorized: 403,
  unsupportedContact: 400,
  unsupportedIdentifier: 400,
  userActionRequired: 403,
} as const;

export type ProblemType = keyof typeof PROBLEM_STATUS;
const PREFIX = 'urn:ietf:params:acme:error:';

/** An ACME error: answered as application/problem+json (RFC 7807) by the ACME routes. */
export class AcmeProblem extends Error {
  readonly status: number;
  constructor(
    readonly problemType: ProblemType,
    detail: string,
    readonly subproblems: { type: ProblemType; detail: string; identifier?: AcmeIdentifier }[] = [],
    status?: number,
  ) {
    super(detail);
    this.status = status ?? PROBLEM_STATUS[problemType];
  }
  toProblem(): Problem {
    const p: Problem = { type: PREFIX + this.problemType, detail: this.message, status: this.status };
    if (this.subproblems.length) p.subproblems = this.subproblems.map((s) => ({ type: PREFIX + s.type, detail: s.detail, ...(s.identifier ? { identifier: s.identifier } : {}) }));
    return p;
  }
}

export const problem = (type: ProblemType, detail: string): Problem => ({ type: PREFIX + type, detail, status: PROBLEM_STATUS[type] });

export function acmeFail(type: ProblemType, detail: string): never {
  throw new AcmeProblem(type, detail);
}
