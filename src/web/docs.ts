/**
 * The API reference page, rendered by Swagger UI from /openapi.json. The assets are served from
 * the swagger-ui-dist package itself, so the page works on a machine with no internet access.
 */
import { Hono } from 'hono';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { AppEnv } from '../http/env.js';

const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
};

const INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#api', deepLinking: true,
  persistAuthorization: false, tryItOutEnabled: false });`;

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>oubli — API reference</title><link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="api"></div><script src="/docs/assets/swagger-ui-bundle.js"></script><script src="/docs/assets/init.js"></script></body></html>`;

// Only the package's location: importing swagger-ui-dist itself loads its 1 MB bundle (~0.5 s of
// start-up) for nothing, since the files are served from disk on first request.
const distDir = () => dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

const cache = new Map<string, string>();
function asset(name: string): string {
  let body = cache.get(name);
  if (body === undefined) {
    body = readFileSync(join(distDir(), name), 'utf8');
    cache.set(name, body);
  }
  return body;
}

export const docsRoutes = new Hono<AppEnv>()
  .get('/', (c) => c.html(PAGE))
  // One parametric route (a static /assets/init.js beside it would push hono from its fast
  // RegExpRouter to the slower trie router for the whole app).
  .get('/assets/:file', (c) => {
    const file = c.req.param('file');
    if (file === 'init.js') return c.body(INIT, 200, { 'content-type': 'text/javascript; charset=utf-8' });
    const type = ASSETS[file];
    if (!type) return c.notFound();
    return c.body(asset(file), 200, { 'content-type': type, 'cache-control': 'public, max-age=86400' });
  });
