import { useState, type FormEvent } from 'react';
import { api, basicAuth, saveSession } from '../api.ts';
import { useAction } from '../hooks.ts';
import { useSession } from '../session.tsx';
import { ErrorMessage, PageTitle, StatusMessage } from '../ui.tsx';

/** The signed-in person's own account: their roles, and changing their password. */
export function Account() {
  const { session, roles } = useSession();
  return (
    <>
      <PageTitle text="Your account">Your account: {session.user}</PageTitle>
      <section className="card" aria-labelledby="acct-roles-h">
        <h2 id="acct-roles-h">Roles</h2>
        {roles.length ? <p>{roles.join(', ')}</p> : <p className="muted">No roles.</p>}
      </section>
      <ChangePassword />
    </>
  );
}

function ChangePassword() {
  const { session } = useSession();
  const act = useAction();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [repeat, setRepeat] = useState('');
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!current || !next) {
      act.setError('Enter your current password and the new one.');
      return;
    }
    if (next !== repeat) {
      act.setError('The new password and its repetition differ.');
      return;
    }
    const done = await act.run(async () => {
      await api.changeMyPassword({ CurrentPassword: current, NewPassword: next });
      // The old credentials stop working at once: keep this tab signed in with the new ones.
      saveSession({ user: session.user, auth: basicAuth(session.user, next) });
      return true;
    }, 'Your password has been changed. Use the new one from now on.');
    if (done) {
      setCurrent('');
      setNext('');
      setRepeat('');
    }
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="acct-pw-h" noValidate>
      <h2 id="acct-pw-h">Change password</h2>
      <ErrorMessage error={act.error} />
      <StatusMessage>{act.message}</StatusMessage>
      {/* The account name, for password managers. */}
      <input type="text" name="username" autoComplete="username" value={session.user} readOnly hidden />
      <div className="field">
        <label htmlFor="acct-current">Current password</label>
        <input id="acct-current" type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="acct-new">New password</label>
        <input id="acct-new" type="password" autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} aria-describedby="acct-new-hint" />
        <p className="hint" id="acct-new-hint">
          The server's password policy applies (length, and passwords known from breaches are refused).
        </p>
      </div>
      <div className="field">
        <label htmlFor="acct-repeat">New password again</label>
        <input id="acct-repeat" type="password" autoComplete="new-password" value={repeat} onChange={(e) => setRepeat(e.target.value)} />
      </div>
      <button type="submit" className="button primary" disabled={act.busy}>
        {act.busy ? 'Changing…' : 'Change password'}
      </button>
    </form>
  );
}
