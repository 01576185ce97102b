import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Helpers for the portal's browser tests (Debian's chromium driven by playwright-core). */

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Chromium to drive: $CHROMIUM_PATH (npm test sets it to what it found), else Debian's. */
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
/**
 * Every run takes the screenshots; they replace the committed ones in docs/screenshots only with
 * UPDATE_SCREENSHOTS=1, so a test run leaves the tree clean.
 */
export const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1' ? join(ROOT, 'docs', 'screenshots') : join(ROOT, 'test-results', 'screenshots');

const newest = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
    const p = join(dir, e.name);
    return Math.max(m, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }, 0);

/**
 * The browser tests need dist/portal. `npm test` builds it first (build:portal); when run on their
 * own, build it here if it is missing or older than its sources.
 */
export async function ensurePortalBuilt(): Promise<void> {
  const index = join(ROOT, 'dist', 'portal', 'index.html');
  if (existsSync(index) && statSync(index).mtimeMs >= newest(join(ROOT, 'src', 'portal', 'app'))) return;
  const { build } = await import('vite');
  await build({ configFile: join(ROOT, 'src', 'portal', 'app', 'vite.config.ts'), logLevel: 'warn' });
}

export async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `The portal's browser tests need Chromium at ${CHROMIUM}, and it is missing. Install it (apt-get update && apt-get install -y chromium; CI does this) or set CHROMIUM_PATH.`,
    );
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * Saves docs/screenshots/<name>.png of the whole page. Sticky bars are unstuck meanwhile (through
 * the CSSOM, which the portal's CSP allows), so they show where they belong, not mid-page.
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const unstuck = await page.evaluate(() => {
    const els = [...document.querySelectorAll<HTMLElement>('body *')].filter((e) => getComputedStyle(e).position === 'sticky');
    for (const e of els) e.style.position = 'static';
    return els.length;
  });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true, animations: 'disabled', caret: 'hide' });
  if (unstuck) {
    await page.evaluate(() => {
      for (const e of Array.from(document.querySelectorAll<HTMLElement>('body *'))) if (e.style.position === 'static') e.style.removeProperty('position');
    });
  }
}

/** Presses Tab until the focused element matches `selector`; fails if it never does. */
export async function tabTo(page: Page, selector: string, max = 80): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((sel) => document.activeElement?.matches(sel) ?? false, selector)) return;
  }
  throw new Error(`Tab never reached ${selector}`);
}

/** The focused element shows a focus indicator (an outline of at least 2px). */
export async function focusVisible(page: Page): Promise<boolean> {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el) return false;
    const s = getComputedStyle(el);
    return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
  });
}

export interface ContrastProblem {
  text: string;
  ratio: number;
  needed: number;
  color: string;
  background: string;
}

/**
 * WCAG 2.x contrast of every visible text on the page against its effective background
 * (4.5:1, or 3:1 for large text). Disabled controls and SVG are not checked.
 */
export async function contrastProblems(page: Page): Promise<ContrastProblem[]> {
  return page.evaluate(() => {
    const parse = (c: string): [number, number, number, number] => {
      const m = /rgba?\(([^)]+)\)/.exec(c);
      if (!m) return [0, 0, 0, 0];
      const p = m[1]!
        .split(/[\s,/]+/)
        .filter(Boolean)
        .map(Number);
      return [p[0]!, p[1]!, p[2]!, p[3] ?? 1];
    };
    const lum = ([r, g, b]: number[]) => {
      const f = (v: number) => {
        const c = v / 255;
        return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * f(r!) + 0.7152 * f(g!) + 0.0722 * f(b!);
    };
    const blend = (top: number[], bottom: number[]) => {
      const a = top[3]!;
      return [0, 1, 2].map((i) => top[i]! * a + bottom[i]! * (1 - a)).concat(1);
    };
    const background = (el: Element): number[] => {
      const layers: number[][] = [];
      for (let e: Element | null = el; e; e = e.parentElement) {
        const c = parse(getComputedStyle(e).backgroundColor);
        if (c[3]! > 0) {
          layers.push(c);
          if (c[3]! >= 1) break;
        }
      }
      let out = [255, 255, 255, 1];
      for (const l of layers.reverse()) out = blend(l, out);
      return out;
    };
    const hidden = (el: Element): boolean => {
      for (let e: Element | null = el; e; e = e.parentElement) {
        const s = getComputedStyle(e);
        if (s.display === 'none' || s.visibility === 'hidden' || (s.position === 'absolute' && s.clip === 'rect(0px, 0px, 0px, 0px)')) return true;
      }
      return el.getClientRects().length === 0;
    };
    const out: { text: string; ratio: number; needed: number; color: string; background: string }[] = [];
    for (const el of document.body.querySelectorAll('*')) {
      if (el.closest('svg')) continue;
      const text = [...el.childNodes]
        .filter((n) => n.nodeType === Node.TEXT_NODE)
        .map((n) => n.textContent ?? '')
        .join('')
        .trim();
      const isControl = el.matches('input, select, textarea');
      if (!text && !isControl) continue;
      if ((el as HTMLInputElement).disabled || el.closest('[disabled]') || el.matches('input[type=checkbox], input[type=file]')) continue;
      if (hidden(el)) continue;
      const s = getComputedStyle(el);
      const fg = parse(s.color);
      const bg = background(el);
      const color = blend(fg, bg);
      const l1 = lum(color);
      const l2 = lum(bg);
      const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
      const size = parseFloat(s.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(s.fontWeight) >= 700);
      const needed = large ? 3 : 4.5;
      if (ratio < needed)
        out.push({ text: (text || el.tagName).slice(0, 60), ratio: Math.round(ratio * 100) / 100, needed, color: s.color, background: `rgb(${bg.slice(0, 3).join(',')})` });
    }
    return out;
  });
}

/** The page does not scroll sideways. */
export async function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}
