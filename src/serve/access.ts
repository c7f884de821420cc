/**
 * Who may drive the server, checked before any route runs (the model of Jupyter's server). Binding
 * 127.0.0.1 keeps other machines out, not the pages the user's own browser opens:
 *
 *  - the Host header must name this server: a loopback name or address, the --host address, an
 *    --allow-host name (and this machine's addresses when it binds every interface). A page served
 *    from a DNS-rebinding name (one that resolves to 127.0.0.1) sends its own name and is refused,
 *    so it cannot read the API;
 *  - a route that changes something (marked `changesState`) refuses a browser's cross-origin
 *    request: another site's form or fetch, told by `Origin`, or by `Sec-Fetch-Site` where there is
 *    no Origin;
 *  - and it needs the server's token, `Authorization: Bearer TOKEN`, which a page of another origin
 *    cannot know. Routes that only read (POST /api/predict included) need none.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import net from 'node:net';
import os from 'node:os';
import type { FastifyInstance } from 'fastify';
import { UserError, oneLine } from '../util/errors.js';
import { HttpError } from './errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route changes something (starts or stops training): same-origin requests with the token only. */
    changesState?: boolean;
  }
}

/** The environment variable that gives the token when --token does not. */
export const TOKEN_ENV = 'FASHION_CNN_TOKEN';

/** What the access checks need of the server's settings. */
export interface AccessSettings {
  host: string;
  allowHosts: string[];
  token: string;
  readOnly: boolean;
}

/** A random token: 192 bits, URL-safe. */
export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** A host name or address as compared: lower case, without IPv6 brackets or a final dot. */
function canonicalHost(name: string): string {
  const h = name.trim().toLowerCase();
  return (h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h).replace(/\.$/, '');
}

/** `localhost` or a loopback address (127.0.0.0/8, ::1, and IPv4-mapped forms of them). */
export function isLoopback(host: string): boolean {
  const h = canonicalHost(host);
  if (h === 'localhost') return true;
  const family = net.isIP(h);
  return family !== 0 && LOOPBACK.check(h, family === 4 ? 'ipv4' : 'ipv6');
}

/** 0.0.0.0 or :: : every interface of the machine. */
const isWildcard = (host: string) => ['0.0.0.0', '::', '0:0:0:0:0:0:0:0'].includes(canonicalHost(host));

/** The names a request's Host header may carry besides loopback ones. */
export function serverNames(settings: Pick<AccessSettings, 'host' | 'allowHosts'>): Set<string> {
  const names = new Set(['localhost', canonicalHost(settings.host), ...settings.allowHosts.map(canonicalHost)]);
  // Reached from the network, the server is named by one of the machine's addresses: an address is
  // never a rebinding name, whose whole point is a name the attacker's DNS answers for.
  if (isWildcard(settings.host)) for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) names.add(canonicalHost(a.address));
  return names;
}

/** The host of a Host header: "[::1]:8080" is "::1", "Example.org.:80" is "example.org". */
function hostOfHeader(header: string): string {
  const m = /^(\[[^\]]*\]|[^:]*)(?::\d*)?$/.exec(header.trim());
  return canonicalHost(m ? m[1] : header);
}

export function hostRefusal(header: string | undefined, names: ReadonlySet<string>): string | null {
  if (!header) return 'refused: the request has no Host header';
  const host = hostOfHeader(header);
  if (names.has(host) || isLoopback(host)) return null;
  const shown = oneLine(header.slice(0, 100));
  return `refused: Host "${shown}" is not a name this server answers to (a page of another site whose name resolves to this machine?); start the server with --allow-host ${oneLine(host.slice(0, 100))} if that is its name`;
}

/** Whether an Origin header names the origin the request was sent to (its Host). */
function sameOrigin(origin: string, hostHeader: string): boolean {
  try {
    const o = new URL(origin);
    // Parsed alike, so that letter case and a scheme's default port do not matter.
    return o.host === new URL(`${o.protocol}//${hostHeader}`).host;
  } catch {
    return false;
  }
}

/** Why a browser's request to a route that changes something comes from another origin; null when it does not. */
export function crossOriginRefusal(headers: IncomingHttpHeaders): string | null {
  const origin = headers.origin;
  if (origin !== undefined) {
    if (sameOrigin(origin, headers.host ?? '')) return null;
    return `refused: a cross-origin request (Origin ${oneLine(origin.slice(0, 100))}) may not change anything on this server`;
  }
  // Browsers that send no Origin (a GET, some older ones) still say where a request comes from.
  const site = headers['sec-fetch-site'];
  if (site === undefined || site === 'same-origin' || site === 'none') return null;
  return `refused: a cross-origin request (Sec-Fetch-Site: ${oneLine(String(site).slice(0, 30))}) may not change anything on this server`;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Why a request does not carry the token; null when it does or when the check is off (an empty token). */
export function tokenRefusal(authorization: string | undefined, token: string): string | null {
  if (token === '') return null;
  const m = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
  if (!m) {
    const how = 'send Authorization: Bearer TOKEN, with the token fashion-cnn serve printed at start (the dashboard takes it from the URL printed with it)';
    return authorization ? `the Authorization header is not "Bearer TOKEN": ${how}` : `this route changes something and needs the server's token: ${how}`;
  }
  // Compared by digest: the time taken says nothing about how much of the token was right.
  return timingSafeEqual(digest(m[1]), digest(token)) ? null : 'wrong token: use the one fashion-cnn serve printed at start';
}

/** Host check on every request; origin and token checks on the routes marked `changesState`. */
export function registerAccessChecks(app: FastifyInstance, settings: AccessSettings): void {
  const names = serverNames(settings);
  app.addHook('onRequest', async (req) => {
    const host = hostRefusal(req.headers.host, names);
    if (host) throw new HttpError(403, host);
    if (!req.routeOptions.config?.changesState) return;
    const origin = crossOriginRefusal(req.headers);
    if (origin) throw new HttpError(403, origin);
    const token = tokenRefusal(req.headers.authorization, settings.token);
    if (token) throw new HttpError(401, token, { 'www-authenticate': 'Bearer realm="fashion-cnn"' });
  });
}

const HOST_NAME = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$/i;

/** Settings that cannot work, or would leave training open to the network, are refused before the server starts. */
export function checkAccessSettings(settings: AccessSettings): void {
  if (!/^[\x21-\x7e]*$/.test(settings.token)) throw new UserError(`the token (--token or $${TOKEN_ENV}) must be printable ASCII without spaces: it is sent in an HTTP header`);
  for (const name of settings.allowHosts) {
    if (!HOST_NAME.test(name) && net.isIP(canonicalHost(name)) === 0) throw new UserError(`--allow-host takes a host name or an IP address (no scheme, port or path), got "${oneLine(name)}"`);
  }
  if (settings.token === '' && !settings.readOnly && !isLoopback(settings.host)) {
    throw new UserError(`an empty token turns the token check off, which is refused when the server binds beyond loopback (--host ${oneLine(settings.host)}): keep a token, or add --read-only`);
  }
}

/** What `serve` prints at start: the URL that opens the dashboard logged in, and warnings. */
export function accessNotes(settings: AccessSettings, address: string): { loginUrl: string | null; warnings: string[] } {
  const warnings: string[] = [];
  if (!isLoopback(settings.host)) {
    const names = [...serverNames(settings)].filter((n) => !isLoopback(n)).sort().join(', ');
    warnings.push(
      `warning: --host ${settings.host} binds beyond loopback: anyone who can reach this machine can read the runs and classify photos` +
        `${settings.readOnly ? '' : ', and start or stop training with the token'}; plain HTTP, so the token and uploads cross the network unencrypted (put a TLS proxy in front);` +
        ` requests must name it as ${names ? `one of ${names} or ` : ''}a loopback name or address (add more with --allow-host NAME)`,
    );
  }
  if (settings.readOnly) return { loginUrl: null, warnings: [...warnings, 'read-only: no training routes'] };
  if (settings.token === '') return { loginUrl: null, warnings: [...warnings, 'warning: the token is empty: any program on this machine can start and stop training'] };
  const url = new URL(address);
  url.pathname = '/';
  url.searchParams.set('token', settings.token);
  return { loginUrl: url.toString(), warnings };
}
