import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS } from '../../src/domain/errors.ts';

describe('the error catalogue', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  it('documents every code, with its name and status', () => {
    for (const [name, { code, status }] of Object.entries(ERRORS)) {
      expect(doc, name).toMatch(new RegExp(`\\| \`${code}\` \\| ${name} \\| ${status} \\|`));
    }
  });
  it('has unique codes', () => {
    const codes = Object.values(ERRORS).map((e) => e.code);
    expect(new Set(codes).size).toBe(codes.length);
  });
});
