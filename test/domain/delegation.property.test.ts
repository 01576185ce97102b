import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DelegationEdge, MAX_DELEGATION_HOPS, nextHop } from '../../src/domain/delegation.ts';

/** The walk the shell does with nextHop, over an in-memory edge list. */
function reachable(edges: DelegationEdge[], from: number): number[] {
  const seen = new Set([from]);
  let frontier = [from];
  const out: number[] = [];
  for (let hop = 0; hop < MAX_DELEGATION_HOPS && frontier.length; hop++) {
    frontier = nextHop(
      edges.filter((e) => frontier.includes(e.delegateId)),
      frontier,
      seen,
    );
    out.push(...frontier);
  }
  return out;
}

/** The specification: delegators at a distance of 1..MAX hops along delegate <- delegator edges. */
function expected(edges: DelegationEdge[], from: number): Set<number> {
  const dist = new Map([[from, 0]]);
  let frontier = [from];
  for (let d = 1; d <= MAX_DELEGATION_HOPS; d++) {
    const next: number[] = [];
    for (const e of edges) if (frontier.includes(e.delegateId) && !dist.has(e.delegatorId)) dist.set(e.delegatorId, d), next.push(e.delegatorId);
    frontier = next;
  }
  dist.delete(from);
  return new Set(dist.keys());
}

describe('delegation chains', () => {
  it('reach exactly the delegators within the hop bound, each once, never the delegate itself, cycles included', () => {
    const edge = fc.record({ delegatorId: fc.integer({ min: 1, max: 8 }), delegateId: fc.integer({ min: 1, max: 8 }) });
    fc.assert(
      fc.property(fc.array(edge, { maxLength: 30 }), fc.integer({ min: 1, max: 8 }), (edges, from) => {
        const got = reachable(edges, from);
        expect(new Set(got).size).toBe(got.length);
        expect(got).not.toContain(from);
        expect(new Set(got)).toEqual(expected(edges, from));
      }),
    );
  });
});
