/*
 * Text that goes into LDAP requests built from what a person typed at log-in. A name must never
 * change the meaning of a filter (RFC 4515) or a DN (RFC 4514): `*`, parentheses, backslashes,
 * commas and the like are escaped, so "alice)(uid=*" is looked up as exactly that name.
 */

/** A value for an RFC 4515 filter: \ * ( ) and NUL as \XX; other bytes as they are. */
export const escapeFilterValue = (value: string): string => value.replace(/[\\*()\u0000]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

/** A value for one RDN of an RFC 4514 DN. */
export function escapeDnValue(value: string): string {
  let out = value.replace(/[\\,+"<>;=\u0000]/g, (c) => (c === '\u0000' ? '\\00' : `\\${c}`));
  if (out.startsWith(' ') || out.startsWith('#')) out = `\\${out}`;
  if (out.endsWith(' ') && !out.endsWith('\\ ')) out = `${out.slice(0, -1)}\\ `;
  return out;
}

/** Fills {name} placeholders; each value passes through `encode` first. */
export function fillTemplate(template: string, values: Record<string, string>, encode: (v: string) => string = (v) => v): string {
  return template.replace(/\{([a-z]+)\}/gi, (whole, key: string) => (Object.hasOwn(values, key) ? encode(values[key]!) : whole));
}

/** The user part of a log-in name when it belongs to the directory: DOMAIN\user or user@suffix; null otherwise. */
export function directoryUser(typed: string, domain: string, upnSuffixes: readonly string[]): string | null {
  const slash = typed.indexOf('\\');
  let user: string | null = null;
  if (slash > 0 && typed.slice(0, slash).toLowerCase() === domain.toLowerCase()) user = typed.slice(slash + 1);
  else if (slash < 0) {
    const at = typed.lastIndexOf('@');
    if (at > 0 && upnSuffixes.some((s) => s.toLowerCase() === typed.slice(at + 1).toLowerCase())) user = typed.slice(0, at);
  }
  if (user === null || user.trim() === '' || user.length > 256 || /[\\@\u0000-\u001f\u007f]/.test(user)) return null;
  return user;
}
