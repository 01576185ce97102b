import { useState } from 'react';
import { api } from '../api.ts';
import { POLL_MS, useLoad } from '../hooks.ts';
import { takeFlash } from '../router.tsx';
import { ErrorMessage, Loading, PageTitle, Pager, StatusMessage } from '../ui.tsx';
import { InstanceTable } from './InstanceTable.tsx';

const SIZE = 25;

/** My Workflows: the instances I started, newest first, and where each stands. */
export function MyWorkflows() {
  const [page, setPage] = useState(1);
  const [flash] = useState(takeFlash);
  const list = useLoad(() => api.myInstances({ SortField: 'StartDate', SortAscending: 1, ReturnLimit: SIZE, PageReturned: page }), `my:${page}`, POLL_MS);
  const rows = list.data ?? [];
  return (
    <>
      <PageTitle text="My Workflows">My Workflows</PageTitle>
      <StatusMessage>{flash}</StatusMessage>
      <p className="lead">The requests you started, newest first.</p>
      <ErrorMessage error={list.error} title="The list could not be loaded." />
      {list.loading && !list.data ? (
        <Loading />
      ) : rows.length === 0 ? (
        <p>{page === 1 ? 'You have not started any workflow.' : 'No more.'}</p>
      ) : (
        <InstanceTable rows={rows} base="/my" caption="Workflows you started" />
      )}
      <Pager page={page} size={SIZE} count={rows.length} onPage={setPage} />
    </>
  );
}
