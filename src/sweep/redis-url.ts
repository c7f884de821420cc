/**
 * A sweep's Redis server as given on the command line (--queue redis://host:port). Apart from
 * queue.ts, so that reading the flag does not load BullMQ and ioredis.
 */
import { UserError } from '../util/errors.js';

export interface RedisTarget {
  url: string;
  host: string;
  port: number;
  db: number;
  password?: string;
  username?: string;
  tls: boolean;
}

/** Reads `redis://[user:password@]host:port[/db]` (or rediss:// for TLS); a bad URL is one line. */
export function parseRedisUrl(url: string): RedisTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UserError(`--queue ${url}: not a URL (expected redis://host:port)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new UserError(`--queue ${url}: not a redis:// URL (expected redis://host:port)`);
  if (!u.hostname) throw new UserError(`--queue ${url}: no host (expected redis://host:port)`);
  const db = u.pathname && u.pathname !== '/' ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new UserError(`--queue ${url}: "${u.pathname.slice(1)}" is not a database number`);
  return {
    url,
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 6379,
    db,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    tls: u.protocol === 'rediss:',
  };
}
