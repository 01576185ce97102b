import type { Definition } from '../../domain/types.ts';
import type { Row } from './pg-db.ts';

/* A definition's columns, written and read by the PostgreSQL store. */

/** Index of created_at in definitionParams: an UPDATE never changes it. */
export const CREATED_AT_PARAM = 9;
export const definitionParams = (d: Definition): unknown[] => [
  d.id,
  d.displayName,
  d.description,
  d.workflowType,
  JSON.stringify(d.keys),
  d.keys[0]?.value ?? null,
  d.enabled,
  d.draftVersion,
  d.publishedVersion,
  d.createdAt,
  d.lastModified,
];

export function toDefinition(r: Row): Definition {
  return {
    id: r.id,
    displayName: r.display_name,
    description: r.description ?? null,
    workflowType: r.workflow_type,
    keys: r.keys,
    enabled: r.enabled,
    draftVersion: r.draft_version,
    publishedVersion: r.published_version ?? null,
    createdAt: r.created_at,
    lastModified: r.last_modified,
  };
}
