import { describe, expect, it } from 'vitest';
import { CountersignError } from '../../src/domain/errors.ts';
import { GLOBAL_PERMISSION_SET_ID, LEAF_PERMISSIONS, PERMISSION_CATALOGUE, isGlobalPermissionSet } from '../../src/security/permission-set.ts';
import { ALL_PERMISSIONS, P, PERMISSIONS, grants, toCanonical, toLegacy } from '../../src/security/permissions.ts';

describe('permission spellings', () => {
  it('maps every Area:Permission to its access-control string and back', () => {
    for (const p of PERMISSIONS) {
      expect(toCanonical(p.legacy)).toBe(p.path);
      expect(toCanonical(p.path)).toBe(p.path);
      expect(toLegacy(p.path)).toContain(p.legacy);
    }
  });

  it('is case- and slash-insensitive on input', () => {
    expect(toCanonical('workflowinstances:readall')).toBe(P.instancesReadAll);
    expect(toCanonical(' WorkflowDefinitions : Modify ')).toBe(P.definitionsModify);
    expect(toCanonical('security/read')).toBe(P.securityRead);
    expect(toCanonical('/SECURITY/MODIFY/')).toBe(P.securityModify);
  });

  it('accepts groupings and expands them to every legacy permission below', () => {
    expect(toCanonical('/')).toBe('/');
    expect(toCanonical('/workflows')).toBe('/workflows/');
    expect(toLegacy('/').sort()).toEqual(PERMISSIONS.map((p) => p.legacy).sort());
    expect(toLegacy('/security/').sort()).toEqual(['Security:Modify', 'Security:Read']);
    // A leaf is one name, although ReadAll's string is a prefix of ReadMy's (ReadAll implies them).
    expect(toLegacy('/workflows/instances/read/')).toEqual(['WorkflowInstances:ReadAll']);
    expect(toLegacy('/workflows/instances/').sort()).toEqual([
      'WorkflowInstances:Manage',
      'WorkflowInstances:ReadAll',
      'WorkflowInstances:ReadAssignedToMe',
      'WorkflowInstances:ReadMy',
      'WorkflowInstances:Start',
    ]);
    expect(toLegacy('/workflows/definitions/')).toEqual(['WorkflowDefinitions:Read', 'WorkflowDefinitions:Modify']);
  });

  it('rejects unknown permissions in either spelling with RoleInvalid (400)', () => {
    for (const bad of ['Certificates:Juggle', 'WorkflowInstances:Everything', '/workflows/other/', '/nothing/']) {
      let err: unknown;
      try {
        toCanonical(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CountersignError);
      expect((err as CountersignError).status).toBe(400);
      expect((err as CountersignError).message).toContain(bad);
    }
  });

  it('grants by prefix: a shorter string grants everything below it', () => {
    expect(grants(ALL_PERMISSIONS, P.securityModify)).toBe(true);
    expect(grants(['/workflows/'], P.instancesManage)).toBe(true);
    expect(grants(['/workflows/'], P.securityRead)).toBe(false);
    expect(grants(['/workflows/instances/read/'], P.instancesReadMine)).toBe(true);
    expect(grants(['/workflows/instances/read/mine/'], P.instancesReadAll)).toBe(false);
    expect(grants([P.securityRead], P.securityModify)).toBe(false);
    expect(grants([], P.securityRead)).toBe(false);
  });
});

describe('the global permission set', () => {
  it('lists every grouping and every permission, each accepted as a role permission', () => {
    expect(PERMISSION_CATALOGUE).toContain('/');
    expect(PERMISSION_CATALOGUE).toContain('/workflows/');
    expect(PERMISSION_CATALOGUE).toContain('/security/');
    for (const leaf of LEAF_PERMISSIONS) expect(PERMISSION_CATALOGUE).toContain(leaf);
    for (const p of PERMISSION_CATALOGUE) expect(toCanonical(p)).toBe(p);
    expect(new Set(PERMISSION_CATALOGUE).size).toBe(PERMISSION_CATALOGUE.length);
  });

  it('has a fixed lower-case GUID', () => {
    expect(GLOBAL_PERMISSION_SET_ID).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(isGlobalPermissionSet(GLOBAL_PERMISSION_SET_ID.toUpperCase())).toBe(true);
    expect(isGlobalPermissionSet('00000000-0000-0000-0000-000000000000')).toBe(false);
  });
});
