import { Delegations } from './pages/Delegations.tsx';
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { ApiError, api, basicAuth, clearSession, loadSession, onUnauthorized, saveSession, type Session } from './api.ts';
import { abilities, type Abilities } from './perms.ts';
import { BASE, Link, match, navigate, useLocation, type Location } from './router.tsx';
import { CALLBACK_PATH, finishSignIn, signInProviders, startSignIn, type Provider } from './oidc.ts';
import { SessionContext, useSession, type SignedIn } from './session.tsx';
import { ErrorMessage, Loading, PageTitle } from './ui.tsx';
import { CertificateDetail } from './pages/CertificateDetail.tsx';
import { Certificates } from './pages/Certificates.tsx';
import { Enroll } from './pages/Enroll.tsx';
import { DefinitionEditor } from './pages/DefinitionEditor.tsx';
import { DefinitionView } from './pages/DefinitionView.tsx';
import { Definitions } from './pages/Definitions.tsx';
import { Inbox } from './pages/Inbox.tsx';
import { InstanceDetail } from './pages/InstanceDetail.tsx';
import { Instances } from './pages/Instances.tsx';
import { MyWorkflows } from './pages/MyWorkflows.tsx';
import { IdentityDetail } from './pages/IdentityDetail.tsx';
import { RoleDetail } from './pages/RoleDetail.tsx';
import { Security } from './pages/Security.tsx';
import { Account } from './pages/Account.tsx';
import { Acme } from './pages/Acme.tsx';

type Boot = { state: 'checking' } | { state: 'signed-out'; notice?: string } | { state: 'signed-in'; value: SignedIn };

const atCallback = (): boolean => window.location.pathname.toLowerCase() === `${BASE}${CALLBACK_PATH}`.toLowerCase();

async function establish(session: Session, signOut: () => void): Promise<SignedIn> {
  const perms = (await api.myPermissions(session.auth)).Permissions ?? [];
  saveSession(session);
  const roles = await api.my().then(
    (m) => m.Roles ?? [],
    () => [] as string[],
  );
  return { session, permissions: perms, can: abilities(perms), roles, signOut };
}

export function App() {
  const [boot, setBoot] = useState<Boot>(() => (loadSession() || atCallback() ? { state: 'checking' } : { state: 'signed-out' }));

  const signOut = useCallback(() => {
    clearSession();
    setBoot({ state: 'signed-out', notice: 'You have signed out.' });
  }, []);

  useEffect(() => {
    onUnauthorized(() => setBoot({ state: 'signed-out', notice: 'Your session has ended or your credentials are no longer accepted. Sign in again.' }));
    if (atCallback()) {
      // Back from the identity provider: trade the code for a token, then start at the home page.
      finishSignIn(new URLSearchParams(window.location.search))
        .then((session) => establish(session, signOut))
        .then(
          (value) => {
            navigate('/', { replace: true });
            setBoot({ state: 'signed-in', value });
          },
          (e: unknown) => {
            clearSession();
            navigate('/', { replace: true });
            setBoot({ state: 'signed-out', notice: e instanceof ApiError && e.status === 401 ? 'Countersign did not accept the token; sign in again.' : (e as Error).message });
          },
        );
      return;
    }
    const stored = loadSession();
    if (!stored) return;
    establish(stored, signOut).then(
      (value) => setBoot({ state: 'signed-in', value }),
      (e: unknown) => {
        clearSession();
        setBoot({ state: 'signed-out', notice: e instanceof ApiError && e.status === 401 ? 'Sign in again.' : (e as Error).message });
      },
    );
  }, [signOut]);

  if (boot.state === 'checking') return <Loading what="Checking your sign-in" />;
  if (boot.state === 'signed-out') return <SignIn notice={boot.notice} onSignedIn={(s) => establish(s, signOut).then((value) => setBoot({ state: 'signed-in', value }))} />;
  return (
    <SessionContext.Provider value={boot.value}>
      <Shell />
    </SessionContext.Provider>
  );
}

function SignIn({ notice, onSignedIn }: { notice?: string; onSignedIn: (s: Session) => Promise<void> }) {
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [providers, setProviders] = useState<Provider[]>([]);
  useEffect(() => {
    signInProviders().then(setProviders);
  }, []);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!user.trim() || !password) {
      setError('Enter your account name and password.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await onSignedIn({ user: user.trim(), auth: basicAuth(user.trim(), password) });
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'The account name or password is not right.' : (err as Error).message);
      setBusy(false);
    }
  };
  return (
    <main id="main" className="signin">
      <div className="signin-card">
        <p className="brand-large" aria-hidden="true">
          Countersign
        </p>
        <PageTitle text="Sign in">Sign in to Countersign</PageTitle>
        {notice ? (
          <p className="alert alert-info" role="status">
            {notice}
          </p>
        ) : null}
        <ErrorMessage error={error} />
        {providers.length ? (
          <div className="signin-providers">
            {providers.map((p) => (
              <button
                key={p.Issuer}
                type="button"
                className="button primary"
                disabled={busy}
                onClick={() => {
                  setBusy(true);
                  startSignIn(p).catch((e: unknown) => {
                    setError((e as Error).message);
                    setBusy(false);
                  });
                }}
              >
                Sign in with {p.Name}
              </button>
            ))}
            <p className="hint">Or with a Countersign or directory account:</p>
          </div>
        ) : null}
        <form onSubmit={submit} noValidate>
          <div className="field">
            <label htmlFor="signin-user">Account name</label>
            <input id="signin-user" name="username" autoComplete="username" value={user} onChange={(e) => setUser(e.target.value)} aria-describedby="signin-user-hint" />
            <p id="signin-user-hint" className="hint">
              DOMAIN\user or user
            </p>
          </div>
          <div className="field">
            <label htmlFor="signin-password">Password</label>
            <input id="signin-password" name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
          </div>
          <button type="submit" className="button primary" disabled={busy}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
        <p className="hint">The portal uses the public API at /KeyfactorAPI with your credentials; it keeps them for this browser tab only.</p>
      </div>
    </main>
  );
}

interface NavItem {
  to: string;
  label: string;
  show: (c: Abilities) => boolean;
}

const NAV: NavItem[] = [
  { to: '/inbox', label: 'Assigned to Me', show: (c) => c.inbox },
  { to: '/my', label: 'My Workflows', show: (c) => c.mine },
  { to: '/delegation', label: 'Delegation', show: (c) => c.inbox },
  { to: '/instances', label: 'Instances', show: (c) => c.instances },
  { to: '/enroll', label: 'Enroll', show: (c) => c.enrollCsr || c.enrollPfx },
  { to: '/certificates', label: 'Certificates', show: (c) => c.certificates },
  { to: '/definitions', label: 'Definitions', show: (c) => c.definitionsRead },
  { to: '/security', label: 'Security', show: (c) => c.securityRead },
  { to: '/acme', label: 'ACME', show: (c) => c.acme },
];

function Shell() {
  const loc = useLocation();
  const { session, can, signOut } = useSession();
  const items = NAV.filter((n) => n.show(can));
  const home = items[0]?.to;
  useEffect(() => {
    if (loc.path === '/' && home) navigate(home, { replace: true });
  }, [loc.path, home]);
  return (
    <>
      <a className="skip" href="#main">
        Skip to main content
      </a>
      <header className="top">
        <div className="top-inner">
          <Link to="/" className="brand">
            Countersign
          </Link>
          <nav aria-label="Main" className="mainnav">
            <ul>
              {items.map((n) => (
                <li key={n.to}>
                  <Link to={n.to} aria-current={loc.path === n.to || loc.path.startsWith(`${n.to}/`) ? 'page' : undefined}>
                    {n.label}
                  </Link>
                </li>
              ))}
            </ul>
          </nav>
          <div className="who">
            <Link to="/account" className="who-name" title="Your account (change your password)" aria-current={loc.path === '/account' ? 'page' : undefined}>
              {session.user}
            </Link>
            <button type="button" className="button small on-dark" onClick={signOut}>
              Sign out
            </button>
          </div>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Route loc={loc} can={can} />
      </main>
    </>
  );
}

function Route({ loc, can }: { loc: Location; can: Abilities }) {
  const p = loc.path;
  if (p === '/') return <NoAccess />;
  if (match('/account', p)) return <Account />;
  if (match('/inbox', p) && can.inbox) return <Inbox />;
  {
    const m = match('/inbox/:id', p);
    if (m && can.inbox) return <InstanceDetail key={m.id} id={m.id!} from="inbox" />;
  }
  if (match('/my', p) && can.mine) return <MyWorkflows />;
  if (match('/delegation', p) && can.inbox) return <Delegations />;
  {
    const m = match('/my/:id', p);
    if (m && can.mine) return <InstanceDetail key={m.id} id={m.id!} from="my" />;
  }
  if (match('/instances', p) && can.instances) return <Instances loc={loc} />;
  {
    const m = match('/instances/:id', p);
    if (m && can.instances) return <InstanceDetail key={m.id} id={m.id!} from="instances" />;
  }
  if (match('/enroll', p) && (can.enrollCsr || can.enrollPfx)) return <Enroll />;
  if (match('/certificates', p) && can.certificates) return <Certificates loc={loc} />;
  {
    const m = match('/certificates/:id', p);
    if (m && can.certificates && /^\d{1,9}$/.test(m.id!)) return <CertificateDetail key={m.id} id={Number(m.id)} />;
  }
  if (match('/definitions', p) && can.definitionsRead) return <Definitions />;
  {
    const m = match('/definitions/:id/edit', p);
    if (m && can.definitionsModify) return <DefinitionEditor key={m.id} id={m.id!} />;
  }
  {
    const m = match('/definitions/:id', p);
    if (m && can.definitionsRead) return <DefinitionView key={`${m.id}:${loc.search.get('version') ?? ''}`} id={m.id!} version={Number(loc.search.get('version')) || undefined} />;
  }
  if (match('/security', p) && can.securityRead) return <Security />;
  if (match('/acme', p) && can.acme) return <Acme />;
  {
    const m = match('/security/roles/:id', p);
    if (m && can.securityRead) return <RoleDetail key={m.id} id={Number(m.id)} />;
  }
  {
    const m = match('/security/identities/:id', p);
    if (m && can.securityRead) return <IdentityDetail key={m.id} id={Number(m.id)} />;
  }
  return <NotFound />;
}

function NoAccess() {
  return (
    <>
      <PageTitle text="No access">Nothing to show yet</PageTitle>
      <p>Your account holds no permission that the portal can use. Ask an administrator to add you to a role.</p>
    </>
  );
}

function NotFound() {
  return (
    <>
      <PageTitle text="Page not found">Page not found</PageTitle>
      <p>This page does not exist, or your account may not open it.</p>
      <p>
        <Link to="/">Go to the start page</Link>
      </p>
    </>
  );
}
