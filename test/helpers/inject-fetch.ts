/**
 * fetch() for a Fastify app without a socket: the request goes through app.inject() and the answer
 * comes back as a WHATWG Response, so a test reads it as it would read fetch's answer. Request
 * bodies are whatever fetch takes (a string, bytes, FormData...), encoded as fetch encodes them.
 */
import type { FastifyInstance } from 'fastify';

/** A status whose Response has no body. */
const NO_BODY = new Set([101, 204, 205, 304]);

export function injectFetch(app: FastifyInstance): (url: string, init?: RequestInit) => Promise<Response> {
  return async (url, init = {}) => {
    const request = new Request(new URL(url, 'http://localhost'), init);
    const target = new URL(request.url);
    const res = await app.inject({
      method: request.method as 'GET' | 'POST',
      url: `${target.pathname}${target.search}`,
      headers: { host: target.host, ...Object.fromEntries(request.headers) },
      payload: request.body ? Buffer.from(await request.arrayBuffer()) : undefined,
    });
    const headers = new Headers();
    for (const [name, value] of Object.entries(res.headers)) for (const one of [value ?? []].flat()) headers.append(name, String(one));
    return new Response(NO_BODY.has(res.statusCode) ? null : new Uint8Array(res.rawPayload), { status: res.statusCode, headers });
  };
}
