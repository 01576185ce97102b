import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { checkAddress, checkHost, type EgressPolicy } from '../../domain/egress.ts';

/**
 * One HTTP request under the egress policy. The host is checked before anything happens; a name
 * is resolved by our own lookup, which drops denied addresses, and the socket connects to an
 * address that lookup returned: the checked address is the one connected to (no DNS rebinding
 * between check and connect). No redirects are followed here; callers decide per hop.
 */

export interface EgressRequest {
  url: URL;
  method: string;
  headers: Record<string, string | string[]>;
  body?: string;
  signal: AbortSignal;
  maxResponseBytes: number;
}

export interface EgressResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** The destination is not allowed by the egress policy (before or after DNS resolution). */
export class EgressDenied extends Error {}

/**
 * No response was received: refused, reset, unreachable, unresolvable or timed out. One kind,
 * one message, so failures do not tell an open port from a closed or filtered one.
 */
export class ConnectFailure extends Error {}

/** A response came but its body could not be read completely (cut off, too large, too slow). */
export class ResponseFailure extends Error {
  constructor(
    message: string,
    readonly tooLarge: boolean,
  ) {
    super(message);
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A `lookup` for net/tls that only ever yields addresses the policy allows. */
export function checkedLookup(policy: EgressPolicy) {
  return (hostname: string, options: { family?: number | string; all?: boolean }, callback: LookupCallback): void => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : typeof options.family === 'number' ? options.family : 0;
    dnsLookup(hostname, { all: true, family }, (err, addresses) => {
      if (err) return callback(err, []);
      const allowed = addresses.filter((a) => checkAddress(policy, a.address, hostname).ok);
      if (allowed.length === 0) {
        const first = addresses[0] ? checkAddress(policy, addresses[0].address, hostname) : { ok: false as const, reason: 'no address' };
        return callback(new EgressDenied(`${hostname} resolves to ${first.ok ? 'no allowed address' : first.reason}`) as NodeJS.ErrnoException, []);
      }
      if (options.all) callback(null, allowed);
      else callback(null, allowed[0].address, allowed[0].family);
    });
  };
}

export function egressRequest(policy: EgressPolicy, req: EgressRequest): Promise<EgressResponse> {
  const decision = checkHost(policy, req.url.hostname);
  if (!decision.ok) return Promise.reject(new EgressDenied(decision.reason));
  const client = req.url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    let responded = false;
    const r = client.request(req.url, { method: req.method, headers: req.headers, lookup: checkedLookup(policy) as never, signal: req.signal, agent: false }, (res) => {
      responded = true;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.byteLength;
        if (size > req.maxResponseBytes) {
          reject(new ResponseFailure(`more than ${req.maxResponseBytes} bytes`, true));
          res.destroy();
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => reject(new ResponseFailure(req.signal.aborted ? 'it did not finish answering in time' : `the answer was cut off (${err.message})`, false)));
      res.on('aborted', () => reject(new ResponseFailure('the answer was cut off', false)));
    });
    r.on('error', (err) => {
      if (err instanceof EgressDenied) reject(err);
      else if (responded) reject(new ResponseFailure(req.signal.aborted ? 'it did not finish answering in time' : 'the answer was cut off', false));
      else reject(new ConnectFailure(`could not connect to ${req.url.host} or it did not answer in time`));
    });
    if (req.body !== undefined) r.end(req.body);
    else r.end();
  });
}
