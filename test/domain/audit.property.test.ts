import { createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AuditContent, type AuditCrypto, type AuditEntry, checkChain, checkEntry, seal } from '../../src/domain/audit.ts';

/* The audit chain detects every edit, removal, reordering and forgery of stored rows, at the right entry. */

const cryptoWith = (key: string): AuditCrypto => ({
  sha256: (t) => createHash('sha256').update(t).digest('hex'),
  hmac: (t) => createHmac('sha256', key).update(t).digest('hex'),
});
const crypto = cryptoWith('server-key');

const contentArb: fc.Arbitrary<AuditContent> = fc.record({
  at: fc.integer({ min: 0, max: 1e12 }).map((n) => new Date(1.7e12 + n).toISOString()),
  category: fc.integer({ min: 0, max: 5 }),
  operation: fc.integer({ min: 0, max: 12 }),
  level: fc.constantFrom(0 as const, 1 as const, 2 as const),
  actor: fc.option(fc.string({ maxLength: 12 }), { nil: null }),
  entityType: fc.option(fc.string({ maxLength: 8 }), { nil: null }),
  auditIdentifier: fc.option(fc.string({ maxLength: 8 }), { nil: null }),
  immutableIdentifier: fc.option(fc.string({ maxLength: 8 }), { nil: null }),
  message: fc.string({ maxLength: 30 }),
  data: fc.json({ maxDepth: 1 }),
});

function build(contents: AuditContent[], c = crypto, firstId = 1): AuditEntry[] {
  const out: AuditEntry[] = [];
  contents.forEach((content, i) => {
    out.push({ ...content, ...seal(out[i - 1]?.hash ?? null, content, c), id: firstId + i * 2 });
  });
  return out;
}

describe('the audit chain', () => {
  it('holds for every honestly appended log', () => {
    fc.assert(
      fc.property(fc.array(contentArb, { maxLength: 20 }), (contents) => {
        const entries = build(contents);
        expect(checkChain(entries, null, crypto).firstBad).toBeNull();
        for (const [i, e] of entries.entries()) expect(checkEntry(e, entries[i - 1] ?? null, crypto).ok).toBe(true);
      }),
    );
  });

  it('an edited field is caught at that entry', () => {
    const fields = ['at', 'category', 'operation', 'level', 'actor', 'entityType', 'auditIdentifier', 'immutableIdentifier', 'message', 'data'] as const;
    fc.assert(
      fc.property(fc.array(contentArb, { minLength: 1, maxLength: 12 }), fc.nat(), fc.constantFrom(...fields), (contents, n, field) => {
        const entries = build(contents);
        const k = n % entries.length;
        const victim = entries[k]!;
        const changed = typeof victim[field] === 'number' ? (victim[field] as number) + 1 : `${String(victim[field] ?? '')}x`;
        entries[k] = { ...victim, [field]: changed } as AuditEntry;
        expect(checkChain(entries, null, crypto).firstBad?.id).toBe(victim.id);
      }),
    );
  });

  it('a removed entry is caught at the one after it; a removed last entry only by the anchored head', () => {
    fc.assert(
      fc.property(fc.array(contentArb, { minLength: 2, maxLength: 12 }), fc.nat(), (contents, n) => {
        const entries = build(contents);
        const k = n % (entries.length - 1);
        const next = entries[k + 1]!;
        entries.splice(k, 1);
        expect(checkChain(entries, null, crypto).firstBad?.id).toBe(next.id);
      }),
    );
    const entries = build([
      { at: 'a', category: 1, operation: 1, level: 0, actor: null, entityType: null, auditIdentifier: null, immutableIdentifier: null, message: 'm', data: '{}' },
    ]);
    const head = checkChain(entries, null, crypto).head;
    expect(checkChain([], null, crypto).head).not.toEqual(head);
  });

  it('swapped contents are caught at the first swapped entry', () => {
    fc.assert(
      fc.property(fc.array(contentArb, { minLength: 2, maxLength: 12 }), fc.nat(), (contents, n) => {
        const entries = build(contents);
        const k = n % (entries.length - 1);
        const [a, b] = [entries[k]!, entries[k + 1]!];
        fc.pre(JSON.stringify({ ...a, id: 0 }) !== JSON.stringify({ ...b, id: 0 }));
        entries[k] = { ...b, id: a.id };
        entries[k + 1] = { ...a, id: b.id };
        expect(checkChain(entries, null, crypto).firstBad?.id).toBe(a.id);
      }),
    );
  });

  it('a chain recomputed without the server key is refused at its first entry', () => {
    fc.assert(
      fc.property(fc.array(contentArb, { minLength: 1, maxLength: 8 }), (contents) => {
        const forged = build(contents, cryptoWith('attacker-key'));
        const r = checkChain(forged, null, crypto);
        expect(r.firstBad?.id).toBe(forged[0]!.id);
        expect(r.firstBad?.reason).toContain('signature');
      }),
    );
  });
});
