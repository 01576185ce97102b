import { describe, expect, it } from 'vitest';
import { HashGate } from '../../src/security/hash-gate.ts';

/* The password-hash queue: bounded, at most a quarter per client address, round-robin across addresses. */

function deferred() {
  let release!: () => void;
  const done = new Promise<void>((r) => (release = r));
  return { done, release };
}

describe('HashGate', () => {
  it('serves waiting addresses round-robin: one address with a burst does not stand in front of another', async () => {
    const gate = new HashGate(1, 16);
    const order: string[] = [];
    const first = deferred();
    const running = gate.tryRun(() => first.done, 'a');
    const burst = Array.from({ length: 4 }, (_, i) => gate.tryRun(async () => void order.push(`a${i}`), 'a'));
    const other = gate.tryRun(async () => void order.push('b0'), 'b');
    expect(gate.load).toEqual({ running: 1, waiting: 5 });
    first.release();
    await Promise.all([running, ...burst, other]);
    expect(order).toEqual(['a0', 'b0', 'a1', 'a2', 'a3']);
    expect(gate.load).toEqual({ running: 0, waiting: 0 });
  });

  it("refuses at once (null, fn not run) beyond the queue or beyond one address's quarter of it", async () => {
    const gate = new HashGate(1, 8); // two waiting per address at most
    const hold = deferred();
    const running = gate.tryRun(() => hold.done, 'a');
    let ran = 0;
    const a = [gate.tryRun(async () => void ran++, 'a'), gate.tryRun(async () => void ran++, 'a')];
    expect(await gate.tryRun(async () => void ran++, 'a')).toBeNull();
    const others = ['b', 'b', 'c', 'c', 'd', 'd'].map((k) => gate.tryRun(async () => void ran++, k));
    expect(await gate.tryRun(async () => void ran++, 'e')).toBeNull(); // 8 waiting: the queue is full
    hold.release();
    await Promise.all([running, ...a, ...others]);
    expect(ran).toBe(8);
  });
});
