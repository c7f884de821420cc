/**
 * The package's root folder, found the same way from every module: the nearest folder above this
 * one whose package.json is fashion-cnn's. The same answer from src/ (run through tsx) and from
 * dist/src/ (compiled), and from an installed copy under node_modules.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'fashion-cnn';

let cached: { root: string; version: string } | null = null;

function find(): { root: string; version: string } {
  if (cached) return cached;
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = here; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown; version?: unknown };
        if (pkg.name === PACKAGE_NAME) return (cached = { root: dir, version: String(pkg.version ?? 'unknown') });
      } catch {
        // A damaged package.json on the way up is not ours; keep looking.
      }
    }
    if (path.dirname(dir) === dir) throw new Error(`no ${PACKAGE_NAME} package.json above ${here}`);
  }
}

export function packageRoot(): string {
  return find().root;
}

export function packageVersion(): string {
  return find().version;
}
