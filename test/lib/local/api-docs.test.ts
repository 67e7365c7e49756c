import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { serveApiDocs } from '../../../lib/local/api-docs.js';

// The docs routes over a real loopback server; whatever they do not serve answers 404.
const original = parse(readFileSync(new URL('../../../openapi.yaml', import.meta.url), 'utf8')) as Record<string, unknown> & { servers: unknown[] };
let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((request, response) => {
    if (!serveApiDocs(request, response)) response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('the docs routes of npm start', () => {
  it('serves openapi.yaml as is, but for its first server: the URL the request reached', async () => {
    // Act
    const response = await fetch(`${url}/openapi.yaml`);
    const served = parse(await response.text()) as typeof original;
    // Assess
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/yaml; charset=utf-8');
    expect(served.servers).toEqual([{ url, description: 'this `npm start`' }, ...original.servers.slice(1)]);
    expect({ ...served, servers: [] }).toEqual({ ...original, servers: [] });
  });

  it('serves the Swagger UI page and the assets it loads, from the swagger-ui-dist package', async () => {
    // Act
    const page = await (await fetch(`${url}/docs`)).text();
    const assets = [...page.matchAll(/(?:src|href)="(\/docs\/[^"]+)"/g)].map((match) => match[1]!);
    const answers = await Promise.all(assets.map(async (asset) => [asset, (await fetch(`${url}${asset}`)).status]));
    // Assess
    expect(page).toContain("SwaggerUIBundle({ url: '/openapi.yaml'");
    expect(page).toContain('validatorUrl: null');
    expect(assets).toEqual(expect.arrayContaining(['/docs/swagger-ui.css', '/docs/swagger-ui-bundle.js']));
    expect(answers).toEqual(assets.map((asset) => [asset, 200]));
  });

  it.each([
    ['a file of the package the page does not use', 'GET', '/docs/index.js'],
    ['a path outside the package', 'GET', '/docs/..%2F..%2Fpackage.json'],
    ['another method', 'POST', '/openapi.yaml'],
  ])('serves nothing else: %s', async (_case, method, path) => {
    expect((await fetch(`${url}${path}`, { method })).status).toBe(404);
  });
});
