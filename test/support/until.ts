type Probe<T> = () => T | null | undefined | false | Promise<T | null | undefined | false>;

/** Polls probe every everyMs until it returns something truthy; fails naming what after ms. */
export async function waitFor<T>(what: string, probe: Probe<T>, ms = 15_000, everyMs = 100): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(what ? `timed out waiting for ${what}` : 'timed out waiting');
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Polls f every 100 ms until it returns something truthy; fails after ms. */
export function until<T>(f: Probe<T>, ms = 15_000): Promise<T> {
  return waitFor('', f, ms);
}
