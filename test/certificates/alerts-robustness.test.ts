import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/server.ts';

/** No input to the collection, alert, schedule and renewal routes may produce a 500. */

let t: TestApp;
let certId: number;
beforeAll(async () => {
  t = await startTestApp();
  const r = await t.call('POST', '/KeyfactorAPI/Enrollment/PFX', {
    headers: { 'x-certificateformat': 'PFX' },
    body: { Subject: 'CN=fuzz.example.test', Template: 'Countersign', KeyType: 'ECC', Password: 'Pfx-pass-12' },
  });
  certId = r.body.CertificateInformation.KeyfactorId;
});
afterAll(() => t.close());

const OPERATIONS: [string, string][] = [
  ['GET', '/KeyfactorAPI/CertificateCollections'],
  ['POST', '/KeyfactorAPI/CertificateCollections'],
  ['PUT', '/KeyfactorAPI/CertificateCollections'],
  ['GET', '/KeyfactorAPI/CertificateCollections/{n}'],
  ['DELETE', '/KeyfactorAPI/CertificateCollections/{n}'],
  ['GET', '/KeyfactorAPI/Alerts/Expiration'],
  ['POST', '/KeyfactorAPI/Alerts/Expiration'],
  ['PUT', '/KeyfactorAPI/Alerts/Expiration'],
  ['GET', '/KeyfactorAPI/Alerts/Expiration/{n}'],
  ['DELETE', '/KeyfactorAPI/Alerts/Expiration/{n}'],
  ['PUT', '/KeyfactorAPI/Alerts/Expiration/Schedule'],
  ['POST', '/KeyfactorAPI/Alerts/Expiration/Test'],
  ['POST', '/KeyfactorAPI/Alerts/Expiration/TestAll'],
  ['POST', '/KeyfactorAPI/Enrollment/Renew'],
  ['GET', '/KeyfactorAPI/Enrollment/AvailableRenewal/Id/{n}'],
  ['GET', '/KeyfactorAPI/Enrollment/AvailableRenewal/Thumbprint/{n}'],
];

const segment = fc.oneof(fc.string({ maxLength: 40 }), fc.integer().map(String), fc.constantFrom('1', '0', '-1', '99999999999999999999', '%00', 'Schedule'));
const anyValue = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.integer(), fc.constantFrom(2147483647, -2147483648, 1e300, '2026-01-01T00:00:00Z', 'not a date', null));
const time = fc.oneof(
  fc.constantFrom('2026-01-01T06:00:00Z', '', 'x', '9999-99-99'),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
);
const schedule = fc.oneof(
  anyValue,
  fc.record({ Immediate: anyValue }, { requiredKeys: [] }),
  fc.record({ Interval: fc.record({ Minutes: anyValue }, { requiredKeys: [] }) }),
  fc.record({ Daily: fc.record({ Time: time }) }),
  fc.record({ Weekly: fc.record({ Days: fc.oneof(anyValue, fc.array(fc.integer({ min: -2, max: 9 }))), Time: time }) }),
  fc.record({ Monthly: fc.record({ Day: anyValue, Time: time }) }),
  fc.record({ ExactlyOnce: fc.record({ Time: time }) }),
);
// Near-valid bodies reach the deeper checks; random JSON the shallow ones.
const body = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.record(
    {
      Id: anyValue,
      Name: anyValue,
      Query: fc.oneof(anyValue, fc.constantFrom('IssuedCN -eq "x"', 'NotAfter -lt "2026-01-01"', '(((', 'Retired -ne "True"')),
      DisplayName: fc.oneof(anyValue, fc.string()),
      ExpirationWarningDays: anyValue,
      CertificateQueryId: anyValue,
      Recipients: fc.oneof(anyValue, fc.array(fc.string())),
      UseWorkflows: anyValue,
      Schedule: schedule,
      AlertId: anyValue,
      EvaluationDate: fc.oneof(anyValue, time),
      PreviousEvaluationDate: fc.oneof(anyValue, time),
      SendAlerts: fc.constantFrom(false, 'false', 0),
      CertificateId: anyValue,
      Thumbprint: anyValue,
      EnrollmentPatternId: anyValue,
      CertificateAuthority: anyValue,
      Timestamp: anyValue,
      RegisteredEventHandler: anyValue,
      EventHandlerParameters: anyValue,
      DuplicationField: anyValue,
      CopyFromId: anyValue,
    },
    { requiredKeys: [] },
  ),
);

describe('alert routes robustness', () => {
  it('random ids and bodies never produce a 500', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...OPERATIONS), segment, body, fc.boolean(), async ([method, template], seg, b, real) => {
        const path = template.replace('{n}', real ? String(certId) : encodeURIComponent(seg));
        const res = await t.call(method, path, { body: method === 'GET' ? undefined : b, unchecked: true });
        expect(res.status, `${method} ${path} ${JSON.stringify(b)} -> ${res.text}`).toBeLessThan(500);
        if (res.status >= 400) expect(res.body).toEqual({ ErrorCode: expect.stringMatching(/^0x/), Message: expect.any(String) });
      }),
      { numRuns: 400 },
    );
  }, 120_000);
});
