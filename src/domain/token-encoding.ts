import { escapeHtml } from './html.ts';
import { stringify, type TokenEncoder } from './tokens.ts';

/**
 * Encoders for tokens by where they land (used with substituteTokens/resolveValue): a token's
 * value is data and must not change the structure of the URL or body it is put into.
 */

/**
 * URLs: a token that starts the URL or its authority (`$(base)/x`, `https://$(host)/x`) is
 * inserted as written: it chooses the destination, which the egress policy checks at run time.
 * Anywhere else (rest of the host, port, path, query, fragment) the value is percent-encoded
 * as one component, so `../../admin?x=1#` stays inside its path segment or query value.
 */
export const urlComponent: TokenEncoder = (value, before) => (/^([a-z][a-z0-9+.-]*(:(\/\/?)?)?)?$/i.test(before) ? stringify(value) : encodeURIComponent(stringify(value)));

/**
 * JSON documents: inside a string literal the value is escaped as string content; as a bare
 * value it becomes the JSON of the value (a text becomes a quoted string, a number stays a number).
 */
export const jsonValue: TokenEncoder = (value, before) => {
  if (insideJsonString(before)) return JSON.stringify(stringify(value)).slice(1, -1);
  return JSON.stringify(value);
};

/** Whether the end of a JSON text is inside a string literal (an odd number of unescaped quotes). */
export function insideJsonString(text: string): boolean {
  let inside = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inside && c === '\\') i++;
    else if (c === '"') inside = !inside;
  }
  return inside;
}

/** application/x-www-form-urlencoded bodies: each value is one encoded component. */
export const formComponent: TokenEncoder = (value) => encodeURIComponent(stringify(value));

/** XML and HTML bodies: markup characters are escaped. */
export const markupText: TokenEncoder = (value) => escapeHtml(stringify(value));

/** The encoder for a request body of the given content type; other types get plain text. */
export function bodyEncoderFor(contentType: string): TokenEncoder | undefined {
  const t = contentType.split(';')[0].trim().toLowerCase();
  if (t === 'application/json' || t.endsWith('+json') || t === 'text/json') return jsonValue;
  if (t === 'application/x-www-form-urlencoded') return formComponent;
  if (t.endsWith('/xml') || t.endsWith('+xml') || t === 'text/html') return markupText;
  return undefined;
}
