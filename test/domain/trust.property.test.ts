import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applySignal, startInstance, type EngineContext, type Transition } from '../../src/domain/engine.ts';
import { CountersignError } from '../../src/domain/errors.ts';
import { lookupToken, resolvesFromTrusted, untrustedTokens, type TokenScope } from '../../src/domain/tokens.ts';
import type { Actor, DefinitionVersion, Instance, Json, JsonObject, StepDef } from '../../src/domain/types.ts';
import { requireApprovalStep, tally } from '../../src/steps/require-approval/require-approval.ts';
import { defaultRegistry } from '../../src/steps/index.ts';

/*
 * Trust (docs/security/trust.md): what the requester sends (InitialData) must not change who may
 * approve, nor skip an approval. Random linear definitions whose role tokens, conditions and
 * metadata steps name the same fields a requester may send are started twice, once with no
 * InitialData and once with arbitrary InitialData; every approval they reach must wait for the
 * same roles, barring the same identities.
 */

const registry = defaultRegistry();
const ctx: EngineContext = { now: '2024-01-01T00:00:00.000Z', registry };
const INITIATOR = { identityId: 7, accountName: 'requester-7' };

// Field names both the server and the requester may use, so the two collide on purpose.
const NAMES = ['approverRole', 'roles', 'tier', 'needsApproval', 'requester', 'x', 'x.y', 'Approvers'];
const TOKENS = [
  '$(approverRole)',
  '$(roles)',
  '$(tier)',
  '$(needsApproval)',
  '$(requester)',
  '$(x.y)',
  '$(metadata:Approvers)',
  '$(metadata:Tier)',
  '$(metadata:Gate)',
  '$(missing)',
];

const valueArb: fc.Arbitrary<Json> = fc.oneof(
  fc.integer({ min: 1, max: 9 }),
  fc.constantFrom('3', ' 4 ', 'true', 'TRUE', 'false', '', '$(approverRole)'),
  fc.array(fc.oneof(fc.integer({ min: 1, max: 9 }), fc.constant('5')), { maxLength: 3 }),
  fc.record({ y: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.constant('true')) }),
  fc.constant(null),
);
const dataArb = (extra: fc.Arbitrary<string>): fc.Arbitrary<JsonObject> => fc.dictionary(fc.oneof(fc.constantFrom(...NAMES), extra), valueArb, { maxKeys: 6 });
const initialDataArb: fc.Arbitrary<JsonObject> = fc
  .tuple(dataArb(fc.string({ maxLength: 6 })), fc.option(fc.dictionary(fc.constantFrom('Approvers', 'Tier', 'Gate'), valueArb), { nil: undefined }))
  .map(([d, meta]) => (meta ? { ...d, Metadata: meta } : d));

type Kind = 'NOOPStep' | 'UpdateMetadata' | 'RequireApproval';
interface Spec {
  kind: Kind;
  conditions: string[];
  roleTokens: string[];
  metaName: string;
  metaValue: string;
  allowSelf: boolean;
}
const specArb: fc.Arbitrary<Spec> = fc.record({
  kind: fc.constantFrom<Kind>('NOOPStep', 'UpdateMetadata', 'RequireApproval'),
  conditions: fc.array(fc.oneof(fc.constantFrom(...TOKENS), fc.constantFrom('True', 'false')), { maxLength: 2 }),
  roleTokens: fc.array(fc.constantFrom(...TOKENS), { maxLength: 3 }),
  metaName: fc.constantFrom('Approvers', 'Tier', 'Gate'),
  metaValue: fc.oneof(fc.constantFrom(...TOKENS), fc.constantFrom('6', 'true', 'false')),
  allowSelf: fc.boolean(),
});

function version(specs: Spec[]): DefinitionVersion {
  const name = (i: number) => (i === 0 ? 'Start' : `Step${i}`);
  const steps = [{ kind: 'NOOPStep' as Kind }, ...specs].map((s, i, all): StepDef => {
    const spec = i === 0 ? undefined : (s as Spec);
    const kind = spec?.kind ?? 'NOOPStep';
    return {
      id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      extensionName: kind,
      uniqueName: name(i),
      displayName: name(i),
      enabled: true,
      config: (kind === 'UpdateMetadata'
        ? { Name: spec!.metaName, Value: spec!.metaValue }
        : kind === 'RequireApproval'
          ? { AllowSelfApproval: spec!.allowSelf }
          : {}) as JsonObject,
      signals: kind === 'RequireApproval' ? [{ name: 'ApprovalStatus', roleIds: [100], roleTokens: spec!.roleTokens }] : [],
      conditions: (spec?.conditions ?? []).map((value, k) => ({ id: `c${i}-${k}`, value })),
      outputs: i < all.length - 1 ? { continue: name(i + 1) } : {},
    };
  });
  return { definitionId: 'def', version: 1, steps, frozen: true };
}

const start = (v: DefinitionVersion, initialData: JsonObject, trustedData: JsonObject): Transition =>
  startInstance(
    { id: 'i', referenceId: 1, definition: { id: 'def', displayName: 'D', workflowType: 'Enrollment' }, version: v, title: null, initialData, trustedData, initiator: INITIATOR },
    ctx,
  );

/**
 * Where the instance waits and for whom: what the requester must not be able to change. (Which
 * non-approval steps ran may differ: their conditions may use requester data.)
 */
const gateOf = (i: Instance) => ({ status: i.status, step: i.status === 'Suspended' ? i.currentStep : null, roles: i.pendingRoleIds, barred: i.pendingExcludedIds });

/** An approver (never the initiator) holding every role the step waits for. */
const approver = (i: Instance): Actor => ({ identityId: 99, accountName: 'approver', roleIds: i.pendingRoleIds });

describe('requester data cannot choose who approves, nor skip an approval', () => {
  it('every approval reached waits for the same roles whatever InitialData the requester sends', () => {
    fc.assert(
      fc.property(fc.array(specArb, { minLength: 1, maxLength: 6 }), dataArb(fc.constant('serverOnly')), initialDataArb, (specs, trustedData, initialData) => {
        const v = version(specs);
        let clean = start(v, {}, trustedData).instance;
        let dirty = start(v, initialData, trustedData).instance;
        for (;;) {
          expect(gateOf(dirty)).toEqual(gateOf(clean));
          if (clean.status !== 'Suspended' || clean.pendingRoleIds.length === 0) return;
          const key = `${clean.currentStep}.ApprovalStatus`;
          clean = applySignal(clean, v, { key, data: { Approved: true }, actor: approver(clean) }, ctx).instance;
          dirty = applySignal(dirty, v, { key, data: { Approved: true }, actor: approver(dirty) }, ctx).instance;
        }
      }),
      { numRuns: 1500 },
    );
  });

  it('a role token that resolves only from InitialData grants nothing, and the history says so', () => {
    const v = version([{ kind: 'RequireApproval', conditions: [], roleTokens: ['$(approverRole)'], metaName: 'Gate', metaValue: '', allowSelf: false }]);
    const t = start(v, { approverRole: 5 }, {});
    expect(t.instance.pendingRoleIds).toEqual([100]);
    expect(t.history.find((h) => h.kind === 'Suspended')?.message).toContain('$(approverRole) name requester-supplied data and grant no role');
    // The same token from server-set data does grant the role.
    expect(start(v, {}, { approverRole: 5 }).instance.pendingRoleIds).toEqual([5, 100]);
  });

  it('an approval whose condition names requester data runs anyway, and says why', () => {
    const v = version([{ kind: 'RequireApproval', conditions: ['$(needsApproval)'], roleTokens: [], metaName: 'Gate', metaValue: '', allowSelf: false }]);
    for (const needsApproval of [false, 'false', 'FALSE', null, 0]) {
      const t = start(v, { needsApproval }, {});
      expect(t.instance).toMatchObject({ status: 'Suspended', currentStep: 'Step1' });
      expect(t.history.find((h) => h.kind === 'StepEntered' && h.step === 'Step1')?.message).toContain('$(needsApproval) names requester-supplied data');
    }
    // A trusted false skips it; a trusted true runs it.
    expect(start(v, { needsApproval: true }, { needsApproval: 'false' }).instance.status).toBe('Complete');
    expect(start(v, {}, { needsApproval: 'true' }).instance.status).toBe('Suspended');
  });

  it('metadata copied from requester data by UpdateMetadata is not trusted', () => {
    const v = version([
      { kind: 'UpdateMetadata', conditions: [], roleTokens: [], metaName: 'Approvers', metaValue: '$(approverRole)', allowSelf: false },
      { kind: 'RequireApproval', conditions: [], roleTokens: ['$(metadata:Approvers)'], metaName: 'Gate', metaValue: '', allowSelf: false },
    ]);
    const dirty = start(v, { approverRole: 5 }, {}).instance;
    expect(dirty.metadata.Approvers).toBe(5);
    expect(dirty.pendingRoleIds).toEqual([100]);
    expect(start(v, { approverRole: 5 }, { approverRole: 6 }).instance.pendingRoleIds).toEqual([6, 100]);
  });

  it('the requester cannot spoof $(requester): the server-set value wins', () => {
    const t = start(
      version([{ kind: 'NOOPStep', conditions: [], roleTokens: [], metaName: 'Gate', metaValue: '', allowSelf: false }]),
      { requester: 'CORP\\boss' },
      { requester: 'CORP\\me' },
    );
    expect(t.instance.stateData.requester).toBe('CORP\\me');
    expect(t.instance.initialData.requester).toBe('CORP\\boss');
  });
});

describe('token provenance', () => {
  const scope: TokenScope = {
    data: { a: 1, b: 2, 'x.y': 'shadow', x: { y: 'real' } },
    metadata: { M: 1, N: 2 },
    trusted: { data: { b: 3, x: { y: 'real' } }, metadata: { N: 2 } },
  };

  it('names the tokens that resolve only from untrusted values', () => {
    expect(untrustedTokens('$(a) $(b) $(metadata:M) $(metadata:N) $(nothing)', scope)).toEqual(['a', 'metadata:M']);
    expect(untrustedTokens(['$(a)', { k: '$(metadata:M)' }], scope)).toEqual(['a', 'metadata:M']);
    expect(resolvesFromTrusted('$(b) and $(metadata:N)', scope)).toBe(true);
    expect(resolvesFromTrusted('$(b) and $(a)', scope)).toBe(false);
  });

  it('a trusted value wins over a same-named or shadowing requester value', () => {
    expect(lookupToken('b', scope)).toBe(3);
    expect(lookupToken('x.y', scope)).toBe('real');
    expect(lookupToken('a', scope)).toBe(1);
  });

  it('a scope without trusted values trusts nothing', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...NAMES), valueArb), (data) => {
        const names = Object.keys(data)
          .map((k) => `$(${k})`)
          .join(' ');
        expect(resolvesFromTrusted(names, { data, metadata: {} })).toBe(names === '');
      }),
    );
  });
});

describe('self-approval (four eyes)', () => {
  const v = (allowSelf: boolean, minimumApprovals = 1) => {
    const ver = version([{ kind: 'RequireApproval', conditions: [], roleTokens: [], metaName: 'Gate', metaValue: '', allowSelf }]);
    ver.steps[1].config.MinimumApprovals = minimumApprovals;
    return ver;
  };
  const self: Actor = { identityId: INITIATOR.identityId, accountName: INITIATOR.accountName, roleIds: [100] };

  it('the initiator holding the role is refused with the reason, and is barred for AssignedToMe', () => {
    const ver = v(false);
    const t = start(ver, {}, {});
    expect(t.instance.pendingExcludedIds).toEqual([INITIATOR.identityId]);
    let err: unknown;
    try {
      applySignal(t.instance, ver, { key: 'Step1.ApprovalStatus', data: { Approved: true }, actor: self }, ctx);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CountersignError);
    expect((err as CountersignError).errorName).toBe('Forbidden');
    expect((err as CountersignError).message).toContain('the initiator of this request cannot approve it (AllowSelfApproval is off)');
  });

  it('with AllowSelfApproval the initiator may approve and counts', () => {
    const ver = v(true);
    const t = start(ver, {}, {});
    expect(t.instance.pendingExcludedIds).toEqual([]);
    expect(applySignal(t.instance, ver, { key: 'Step1.ApprovalStatus', data: { Approved: true }, actor: self }, ctx).instance.status).toBe('Complete');
  });

  it('signals from the initiator never count toward the quorum when self-approval is off', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ id: fc.integer({ min: 5, max: 9 }), approved: fc.boolean() }), { maxLength: 8 }), fc.integer({ min: 1, max: 3 }), (votes, m) => {
        const ver = v(false, m);
        const base = start(ver, {}, {}).instance;
        const signals = votes.map((x) => ({ step: 'Step1', signal: 'ApprovalStatus', identityId: x.id, accountName: `u${x.id}`, data: { Approved: x.approved }, at: ctx.now }));
        const outcome = requireApprovalStep.decide!({ step: ver.steps[1], instance: base, scope: { data: {}, metadata: {} }, signals });
        const others = tally(signals.filter((s) => s.identityId !== INITIATOR.identityId));
        const expected = others.denials >= 1 ? 'reject' : others.approvals >= m ? 'continue' : 'suspend';
        expect(outcome.kind).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });
});
