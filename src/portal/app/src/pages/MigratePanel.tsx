import { useState } from 'react';
import { approvalsApi, type MigrationResult } from '../approvalsApi.ts';
import { useAction } from '../hooks.ts';
import { ErrorMessage, StatusMessage } from '../ui.tsx';

/** Moving waiting instances to the published version: a dry run first, then the move (docs/approvals.md). */
export function MigratePanel({ definitionId, published }: { definitionId: string; published: number }) {
  const act = useAction();
  const [preview, setPreview] = useState<MigrationResult[] | null>(null);
  const [done, setDone] = useState<MigrationResult[] | null>(null);
  const describe = (r: MigrationResult) =>
    r.Error ? `refused: ${r.Error.Message}` : `version ${r.FromVersion} → ${r.ToVersion}, ${r.StatusName}${r.DecisionsCarried ? `, ${r.DecisionsCarried} decision(s) kept` : ''}`;
  return (
    <section aria-labelledby="migrate-h" className="card">
      <h2 id="migrate-h">Waiting instances on older versions</h2>
      <p className="hint">
        Move instances waiting on an older version to version {published} without restarting them. Decisions already made are kept and counted again under the new settings.
      </p>
      <ErrorMessage error={act.error} />
      <StatusMessage>{act.message}</StatusMessage>
      <button
        type="button"
        className="button"
        disabled={act.busy}
        onClick={async () => {
          setDone(null);
          const r = await act.run(() => approvalsApi.migrateAll(definitionId, true));
          if (r) setPreview(r);
        }}
      >
        Preview the move
      </button>
      {preview ? (
        preview.length === 0 ? (
          <p>No instance waits on an older version.</p>
        ) : (
          <>
            <ul aria-label="What the move would do">
              {preview.map((r) => (
                <li key={r.InstanceId}>
                  {r.InstanceId}: {describe(r)}
                </li>
              ))}
            </ul>
            <button
              type="button"
              className="button primary"
              disabled={act.busy}
              onClick={async () => {
                const r = await act.run(
                  () => approvalsApi.migrateAll(definitionId, false),
                  (res) => `Moved ${res.filter((x) => !x.Error).length} instance(s) to version ${published}.`,
                );
                if (r) {
                  setDone(r);
                  setPreview(null);
                }
              }}
            >
              Move {preview.length} instance(s)
            </button>
          </>
        )
      ) : null}
      {done?.some((r) => r.Error) ? (
        <ul aria-label="Refused">
          {done
            .filter((r) => r.Error)
            .map((r) => (
              <li key={r.InstanceId}>
                {r.InstanceId}: {describe(r)}
              </li>
            ))}
        </ul>
      ) : null}
    </section>
  );
}
