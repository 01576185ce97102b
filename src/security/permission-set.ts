import { PERMISSIONS, toCanonical } from './permissions.ts';

/**
 * Countersign has exactly one permission set, the global one, holding every permission it
 * enforces. Version-2 roles must name it (PermissionSetId is required there); version-1 roles get
 * it by default. Clients find the id with GET /PermissionSets, as they do against Command.
 */
export const GLOBAL_PERMISSION_SET_ID = 'a3c5e0f2-7b1d-4c8e-9f60-2d4b8a1c0e57';
export const GLOBAL_PERMISSION_SET_NAME = 'Global';

/**
 * Every access-control string a version-2 role may hold: the groupings ("/", "/workflows/", ...)
 * and the individual permissions, sorted so that a group precedes what it contains.
 */
export const PERMISSION_CATALOGUE: readonly string[] = (() => {
  const out = new Set<string>();
  for (const p of PERMISSIONS) {
    const segments = p.path.split('/').filter(Boolean);
    for (let i = 0; i <= segments.length; i++) {
      const prefix = i === 0 ? '/' : `/${segments.slice(0, i).join('/')}/`;
      try {
        out.add(toCanonical(prefix));
      } catch {
        // Not an accepted grouping (e.g. "/workflows/instances/read/" is a permission, "/x/" is not).
      }
    }
  }
  return [...out].sort();
})();

/** The individual (leaf) permissions, canonical form. */
export const LEAF_PERMISSIONS: readonly string[] = PERMISSIONS.map((p) => p.path);

export const isGlobalPermissionSet = (id: string): boolean => id.toLowerCase() === GLOBAL_PERMISSION_SET_ID;
