import { createContext, useContext } from 'react';
import type { Session } from './api.ts';
import type { Abilities } from './perms.ts';

export interface SignedIn {
  session: Session;
  permissions: string[];
  can: Abilities;
  roles: string[];
  signOut: () => void;
}

export const SessionContext = createContext<SignedIn | null>(null);

export function useSession(): SignedIn {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a signed-in page');
  return s;
}

/** Account names compare without case, and "alice" matches "CORP\alice". */
export function sameAccount(a: string | null | undefined, b: string | null | undefined): boolean {
  if (!a || !b) return false;
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x === y || x.endsWith(`\\${y}`) || y.endsWith(`\\${x}`);
}
