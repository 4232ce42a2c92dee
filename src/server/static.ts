import { readdirSync, readFileSync } from 'node:fs';
import { packagePath } from '../package-root.js';
import type { Route } from './context.js';
import { HttpError } from './http.js';

/**
 * The live page: web/index.html and web/style.css as written, and web/app.ts as the web build
 * (`tsc -p web/tsconfig.json`) compiled it to dist/web/app.js. Each file is read once, when the
 * server starts; a missing one (the web build not run) is answered 404 saying so.
 */

interface Asset {
  readonly pattern: string;
  readonly file: string;
  readonly contentType: string;
  readonly summary: string;
}

/** The page's script modules: app.js (its entry, 404 until built) and every module the web build wrote beside it. */
function pageModules(): string[] {
  let built: string[] = [];
  try {
    built = readdirSync(packagePath('dist', 'web')).filter((name) => name.endsWith('.js'));
  } catch {
    // the web build not run: app.js alone, answered 404 saying so
  }
  return [...new Set(['app.js', ...built])];
}

const assets: readonly Asset[] = [
  {
    pattern: '/',
    file: 'web/index.html',
    contentType: 'text/html; charset=utf-8',
    summary: 'GET / — the live page: /ping latency, loop delay, bursts under every strategy',
  },
  ...pageModules().map((name) => ({
    pattern: `/${name}`,
    file: `dist/web/${name}`,
    contentType: 'text/javascript; charset=utf-8',
    summary: `GET /${name} — a module of the live page's script`,
  })),
  {
    pattern: '/style.css',
    file: 'web/style.css',
    contentType: 'text/css; charset=utf-8',
    summary: "GET /style.css — the live page's styles",
  },
];

function load(file: string): string | undefined {
  try {
    return readFileSync(packagePath(file), 'utf8');
  } catch {
    return undefined;
  }
}

function staticRoute({ pattern, file, contentType, summary }: Asset): Route {
  const body = load(file);
  return {
    method: 'get',
    pattern,
    always: true, // from memory: nothing the load could make worse
    summary,
    handle(ex) {
      if (body === undefined)
        throw new HttpError(404, `${file} is missing: build the live page with "npm run build:ts"`);
      ex.text(200, contentType, body, { 'cache-control': 'no-cache' });
    },
  };
}

/** GET /, /app.js and /style.css; any other path stays the server's 404. */
export const staticRoutes: readonly Route[] = assets.map(staticRoute);
