import { useState, type FormEvent } from 'react';
import { api } from '../api.ts';
import { useLoad } from '../hooks.ts';
import { INSTANCE_QUERY_FIELDS, SORT_FIELDS, buildQuery, type Condition } from '../query.ts';
import { navigate, takeFlash, type Location } from '../router.tsx';
import { ErrorMessage, Loading, PageTitle, Pager, StatusMessage } from '../ui.tsx';
import { ConditionRows } from './ConditionRows.tsx';
import { InstanceTable } from './InstanceTable.tsx';

const SIZES = [10, 25, 50, 100];

interface Search {
  q: string;
  sort: string;
  desc: boolean;
  page: number;
  size: number;
}

function readSearch(s: URLSearchParams): Search {
  const size = Number(s.get('size'));
  return {
    q: s.get('q') ?? '',
    sort: SORT_FIELDS.some((f) => f.name === s.get('sort')) ? s.get('sort')! : 'StartDate',
    desc: s.get('dir') !== 'asc',
    page: Math.max(1, Number(s.get('page')) || 1),
    size: SIZES.includes(size) ? size : 25,
  };
}

function toUrl(s: Search): string {
  const p = new URLSearchParams();
  if (s.q) p.set('q', s.q);
  p.set('sort', s.sort);
  p.set('dir', s.desc ? 'desc' : 'asc');
  p.set('size', String(s.size));
  if (s.page > 1) p.set('page', String(s.page));
  return `/instances?${p.toString()}`;
}

const emptyRow = (): Condition => ({ field: 'Title', op: 'contains', value: '' });

/** Instance search: a form that writes the QueryString, sort and paging; results link to details. */
export function Instances({ loc }: { loc: Location }) {
  const search = readSearch(loc.search);
  const [rows, setRows] = useState<Condition[]>(() => [emptyRow()]);
  const [raw, setRaw] = useState(() => search.q);
  const [advanced, setAdvanced] = useState(() => search.q !== '');
  const [sort, setSort] = useState(search.sort);
  const [desc, setDesc] = useState(search.desc);
  const [size, setSize] = useState(search.size);
  const [flash] = useState(takeFlash);
  const built = buildQuery(rows);
  const query = advanced ? raw.trim() : built;

  const results = useLoad(
    () => api.instances({ QueryString: search.q || undefined, SortField: search.sort, SortAscending: search.desc ? 1 : 0, ReturnLimit: search.size, PageReturned: search.page }),
    toUrl(search),
  );

  const submit = (e: FormEvent) => {
    e.preventDefault();
    navigate(toUrl({ q: query, sort, desc, size, page: 1 }));
  };
  return (
    <>
      <PageTitle text="Instances">Instances</PageTitle>
      <StatusMessage>{flash}</StatusMessage>
      <form className="card search" onSubmit={submit} aria-labelledby="search-h">
        <h2 id="search-h">Search</h2>
        {!advanced ? (
          <ConditionRows rows={rows} setRows={setRows} fields={INSTANCE_QUERY_FIELDS} emptyRow={emptyRow} idPrefix="c" showAnd />
        ) : (
          <div className="field">
            <label htmlFor="raw-query">QueryString</label>
            <input id="raw-query" className="mono" value={raw} onChange={(e) => setRaw(e.target.value)} aria-describedby="raw-query-hint" />
            <p className="hint" id="raw-query-hint">
              Keyfactor's query language, e.g. <code>Status -eq Suspended AND Title -contains "payments"</code>.
            </p>
          </div>
        )}
        <div className="row">
          <div className="field">
            <label htmlFor="sort-field">Sort by</label>
            <select id="sort-field" value={sort} onChange={(e) => setSort(e.target.value)}>
              {SORT_FIELDS.map((f) => (
                <option key={f.name} value={f.name}>
                  {f.label}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="sort-dir">Order</label>
            <select id="sort-dir" value={desc ? 'desc' : 'asc'} onChange={(e) => setDesc(e.target.value === 'desc')}>
              <option value="desc">Descending</option>
              <option value="asc">Ascending</option>
            </select>
          </div>
          <div className="field">
            <label htmlFor="page-size">Per page</label>
            <select id="page-size" value={size} onChange={(e) => setSize(Number(e.target.value))}>
              {SIZES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </div>
        </div>
        <p className="query-preview">
          Query sent: <code id="query-preview">{query || '(none: every instance)'}</code>
        </p>
        <div className="actions">
          <button type="submit" className="button primary">
            Search
          </button>
          <button
            type="button"
            className="button"
            onClick={() => {
              if (!advanced) setRaw(built);
              setAdvanced(!advanced);
            }}
          >
            {advanced ? 'Use the condition form' : 'Write the query yourself'}
          </button>
        </div>
      </form>

      <section aria-labelledby="results-h">
        <h2 id="results-h">Results</h2>
        {search.q ? (
          <p className="muted small">
            For <code>{search.q}</code>
          </p>
        ) : null}
        <ErrorMessage error={results.error} title="The search failed:" />
        {results.loading && !results.data ? (
          <Loading what="Searching" />
        ) : results.data && results.data.length === 0 ? (
          <p role="status">No instance matches.</p>
        ) : results.data ? (
          <>
            <p role="status" className="sr-only">
              {results.data.length} instance{results.data.length === 1 ? '' : 's'} on this page.
            </p>
            <InstanceTable rows={results.data} base="/instances" caption="Instances found" />
          </>
        ) : null}
        <Pager page={search.page} size={search.size} count={results.data?.length ?? 0} onPage={(p) => navigate(toUrl({ ...search, page: p }))} />
      </section>
    </>
  );
}
