import { useEffect, useState, type AnchorHTMLAttributes, type MouseEvent, type ReactNode } from 'react';

/*
 * A small History-API router: client routes live under /KeyfactorPortal, and the server answers
 * index.html for any of them, so links can be opened, bookmarked and reloaded.
 */

export const BASE = '/KeyfactorPortal';
const CHANGE = 'countersign:navigate';

export interface Location {
  /** The path below BASE, always starting with "/". */
  path: string;
  search: URLSearchParams;
}

function current(): Location {
  const p = window.location.pathname;
  const rest = p.toLowerCase().startsWith(BASE.toLowerCase()) ? p.slice(BASE.length) : p;
  return { path: rest === '' ? '/' : rest, search: new URLSearchParams(window.location.search) };
}

let flash: string | null = null;

/** A message to show once on the next page (e.g. "Approved «title»."). */
export function takeFlash(): string | null {
  const f = flash;
  flash = null;
  return f;
}

export function navigate(to: string, opts: { replace?: boolean; flash?: string } = {}): void {
  if (opts.flash) flash = opts.flash;
  const url = BASE + (to.startsWith('/') ? to : `/${to}`);
  if (opts.replace) window.history.replaceState(null, '', url);
  else window.history.pushState(null, '', url);
  window.dispatchEvent(new Event(CHANGE));
}

export function useLocation(): Location {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const update = () => setLoc(current());
    window.addEventListener('popstate', update);
    window.addEventListener(CHANGE, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(CHANGE, update);
    };
  }, []);
  return loc;
}

/** Matches "/instances/:id" against a path; answers the parameters or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const a = pattern.split('/').filter(Boolean);
  const b = path.split('/').filter(Boolean);
  if (a.length !== b.length) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < a.length; i++) {
    if (a[i]!.startsWith(':')) {
      try {
        out[a[i]!.slice(1)] = decodeURIComponent(b[i]!);
      } catch {
        return null;
      }
    } else if (a[i]!.toLowerCase() !== b[i]!.toLowerCase()) return null;
  }
  return out;
}

type LinkProps = Omit<AnchorHTMLAttributes<HTMLAnchorElement>, 'href'> & { to: string; children: ReactNode };

export function Link({ to, children, onClick, ...rest }: LinkProps) {
  const click = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <a href={BASE + to} onClick={click} {...rest}>
      {children}
    </a>
  );
}
