/** `fashion-cnn serve`: the HTTP API and the dashboard (see app.ts), with a graceful shutdown. */
export { buildServer, type ServeApp } from './app.js';
export { DEFAULT_SERVE_CONFIG, resolveServeConfig, PACKAGE_ROOT, type ServeConfig, type ServeOverride } from './config.js';
export { accessNotes, TOKEN_ENV } from './access.js';
import { accessNotes } from './access.js';
import { buildServer } from './app.js';
import type { ServeOverride } from './config.js';

export interface StartedServer {
  url: string;
  /** The URL that opens the dashboard logged in (it carries the token); null when no route needs one. */
  loginUrl: string | null;
  /** What the user must know about who can reach the server (binding beyond loopback, an empty token, read-only). */
  warnings: string[];
  closed: Promise<void>;
}

/**
 * Starts listening and returns once it does. SIGTERM and SIGINT stop it gracefully: a training
 * worker stops after its batch (keeping its last epoch's checkpoint), in-flight requests finish.
 */
export async function startServer(override: ServeOverride, log: (line: string) => void): Promise<StartedServer> {
  const server = await buildServer(override);
  const address = await server.app.listen({ port: server.config.port, host: server.config.host });
  let resolveClosed: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: finishing requests and stopping workers`);
    server.shutdown().then(() => resolveClosed(), (e: unknown) => {
      log(`shutdown: ${String(e)}`);
      resolveClosed();
    });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return { url: address, ...accessNotes(server.config, address), closed };
}
