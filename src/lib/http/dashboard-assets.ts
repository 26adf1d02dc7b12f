import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpResponseInit } from '@azure/functions';
import { NotFoundError } from '../errors.js';

/**
 * Serves the dashboard that `npm run build` bundles into dist/ui (Vite). The folder is found from
 * the package root, so the compiled app (dist/src/…), the sources under test (src/…) and a Function
 * App package all read the same files.
 */
function uiDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return join(dir, 'dist', 'ui');
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

/** The page may load only its own scripts and styles and talk only to this API. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export async function dashboardPage(): Promise<HttpResponseInit> {
  const html = await readFile(join(uiDir(), 'index.html')).catch(() => undefined);
  if (!html) throw new NotFoundError('Dashboard build', 'dist/ui/index.html (run npm run build)');
  return {
    status: 200,
    body: html,
    headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache', ...SECURITY_HEADERS },
  };
}

/** Asset names are Vite's content-hashed file names: nothing else (no path separators, no dot files). */
const ASSET_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export async function dashboardAsset(file: string): Promise<HttpResponseInit> {
  const ext = file.slice(file.lastIndexOf('.'));
  const type = TYPES[ext];
  if (!ASSET_NAME.test(file) || file.includes('..') || !type) throw new NotFoundError('Asset', file);
  const bytes = await readFile(join(uiDir(), 'assets', file)).catch(() => undefined);
  if (!bytes) throw new NotFoundError('Asset', file);
  return {
    status: 200,
    body: bytes,
    headers: { 'content-type': type, 'cache-control': 'public, max-age=31536000, immutable', ...SECURITY_HEADERS },
  };
}
