import { readFileSync } from 'node:fs';
import { Client, InvalidCredentialsError, ResultCodeError } from 'ldapts';
import { CountersignError } from '../domain/errors.ts';
import { groupMatches, type ClaimMatch } from '../domain/security/external-claims.ts';
import { directoryUser, escapeDnValue, escapeFilterValue, fillTemplate } from '../domain/security/ldap-text.ts';
import type { LdapSettings } from './auth-config.ts';

/*
 * HTTP Basic passwords checked against LDAP / Active Directory by binding as the user (the
 * directory decides; Countersign never sees or keeps a hash). After the bind, with the user's own
 * rights, it reads the user's entry (is it disabled?) and the groups listing the user's DN, which
 * become Group claims (type 1) of Keyfactor's v2 roles.
 *
 * Names: DOMAIN\user and user@suffix (a configured UPN suffix) are the directory's; every other
 * name stays a local account. The identity is DOMAIN\user in either form.
 *
 * Connections: at most poolSize binds run at once (the BasicAuthenticator's directory gate), each
 * on a pooled connection, which is kept open and bound again for the next log-in. A connection
 * that failed is dropped. TLS: ldaps:// URLs, or StartTLS on ldap:// (startTls), verified against
 * caFile or the system's CAs; a certificate that does not verify fails the log-in (503), never
 * falls back to plain text.
 */

export interface DirectoryAccount {
  accountName: string;
  email: string | null;
  groups: { name: string; dn: string }[];
  matches: ClaimMatch[];
}

export type DirectoryVerdict = { ok: true; account: DirectoryAccount } | { ok: false; reason: 'wrong password' | 'unknown user' | 'disabled' };

export interface Directory {
  /** The canonical DOMAIN\user and the user part when the typed name is a directory account; else null. */
  owns(typed: string): { user: string; accountName: string } | null;
  verify(user: string, password: string): Promise<DirectoryVerdict>;
  close(): Promise<void>;
}

export class LdapDirectory implements Directory {
  private readonly idle: Client[] = [];
  private readonly tls: { ca?: Buffer; rejectUnauthorized: true } | undefined;
  private closed = false;

  constructor(private readonly s: LdapSettings) {
    this.tls = s.caFile ? { ca: readFileSync(s.caFile), rejectUnauthorized: true } : { rejectUnauthorized: true };
  }

  owns(typed: string): { user: string; accountName: string } | null {
    const user = directoryUser(typed, this.s.domain, this.s.upnSuffixes);
    return user === null ? null : { user, accountName: `${this.s.domain}\\${user}` };
  }

  async verify(user: string, password: string): Promise<DirectoryVerdict> {
    // An empty password is an "unauthenticated bind" (RFC 4513 §5.1.2), which many servers accept as anonymous.
    if (password === '') return { ok: false, reason: 'wrong password' };
    const values = { user, domain: this.s.domain, upn: this.s.upnSuffixes[0] ?? '' };
    const bindName = this.s.bindTemplate.includes('=') ? fillTemplate(this.s.bindTemplate, values, escapeDnValue) : fillTemplate(this.s.bindTemplate, values);
    let last: unknown;
    // A pooled connection may have died (server restart): one more try per URL, each on a fresh connection.
    for (let attempt = 0; attempt <= this.s.urls.length; attempt++) {
      const pooled = attempt === 0 ? this.idle.pop() : undefined;
      let conn: Client | undefined;
      try {
        conn = pooled ?? (await this.open(this.s.urls[(attempt === 0 ? 0 : attempt - 1) % this.s.urls.length]!));
        const verdict = await this.check(conn, bindName, password, values);
        this.release(conn);
        return verdict;
      } catch (e) {
        conn?.unbind().catch(() => {});
        last = e;
        // The server answered with an error of its own (not a broken connection): asking again will not help.
        if (e instanceof ResultCodeError) break;
      }
    }
    throw new CountersignError('IdentityProviderUnavailable', `The directory could not check the password (${describe(last)}); try again.`);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.idle.splice(0).map((c) => c.unbind().catch(() => {})));
  }

  private async check(client: Client, bindName: string, password: string, values: Record<string, string>): Promise<DirectoryVerdict> {
    try {
      await client.bind(bindName, password);
    } catch (e) {
      if (e instanceof InvalidCredentialsError) return { ok: false, reason: 'wrong password' };
      throw e;
    }
    const { searchEntries: users } = await client.search(this.s.userBase, {
      scope: 'sub',
      filter: fillTemplate(this.s.userFilter, values, escapeFilterValue),
      attributes: ['mail'],
      sizeLimit: 2,
    });
    if (users.length !== 1) return { ok: false, reason: 'unknown user' };
    const entry = users[0]!;
    if (this.s.disabledFilter) {
      const { searchEntries: disabled } = await client.search(entry.dn, { scope: 'base', filter: this.s.disabledFilter, attributes: ['1.1'] });
      if (disabled.length) return { ok: false, reason: 'disabled' };
    }
    const { searchEntries: groupEntries } = await client.search(this.s.groupBase, {
      scope: 'sub',
      filter: fillTemplate(this.s.groupFilter, { ...values, dn: entry.dn }, escapeFilterValue),
      attributes: [this.s.groupNameAttribute],
      sizeLimit: 1000,
    });
    const groups = groupEntries.map((g) => ({ dn: g.dn, name: firstText(g[this.s.groupNameAttribute]) ?? g.dn }));
    const mail = firstText(entry.mail);
    return {
      ok: true,
      account: {
        accountName: `${this.s.domain}\\${values.user}`,
        email: mail && /^[^\s@]+@[^\s@]+$/.test(mail) && mail.length <= 256 ? mail : null,
        groups,
        matches: groupMatches(groups, this.s.domain, this.s),
      },
    };
  }

  private async open(url: string): Promise<Client> {
    const client = new Client({ url, timeout: this.s.timeoutMs, connectTimeout: this.s.timeoutMs, tlsOptions: url.startsWith('ldaps:') ? this.tls : undefined, strictDN: false });
    // StartTLS before anything else: the password never crosses in plain text; a certificate that does not verify fails here.
    if (this.s.startTls && !url.startsWith('ldaps:')) await client.startTLS(this.tls);
    return client;
  }

  private release(client: Client): void {
    if (!this.closed && client.isConnected && this.idle.length < this.s.poolSize) this.idle.push(client);
    else client.unbind().catch(() => {});
  }
}

function firstText(v: unknown): string | null {
  const x = Array.isArray(v) ? v[0] : v;
  if (typeof x === 'string') return x;
  if (Buffer.isBuffer(x)) return x.toString('utf8');
  return null;
}

/** An error's kind for the message: never the password, never the server's full text. */
function describe(e: unknown): string {
  if (e instanceof CountersignError) return e.message;
  const err = e as NodeJS.ErrnoException;
  return err?.code ? String(err.code) : (err?.name ?? 'error');
}
