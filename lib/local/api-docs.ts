/**
 * The API's document and a page to read and try it, for `npm start`: GET /openapi.yaml and GET /docs,
 * Swagger UI from the swagger-ui-dist package (nothing is fetched from the network).
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';

const DOCUMENT = new URL('../../openapi.yaml', import.meta.url);
const SWAGGER_UI = dirname(fileURLToPath(import.meta.resolve('swagger-ui-dist/swagger-ui-bundle.js')));
const ASSETS: Record<string, string> = { 'swagger-ui.css': 'text/css', 'swagger-ui-bundle.js': 'text/javascript', 'favicon-32x32.png': 'image/png' };

// validatorUrl null: Swagger UI would otherwise send the document to an online validator for its badge.
const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>WhatsApp pin API</title>
  <link rel="icon" href="/docs/favicon-32x32.png">
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script>SwaggerUIBundle({ url: '/openapi.yaml', dom_id: '#swagger-ui', deepLinking: true, validatorUrl: null });</script>
</body>
</html>
`;

/** openapi.yaml with `url` in place of its first server (the `npm start` one), so that the page's requests go there. */
export function localDocument(url: string): string {
  const document = parseDocument(readFileSync(DOCUMENT, 'utf8'));
  document.setIn(['servers', 0], document.createNode({ url, description: 'this `npm start`' }));
  return document.toString({ lineWidth: 0 });
}

const send = (response: ServerResponse, type: string, body: string | Buffer) => response.writeHead(200, { 'content-type': type }).end(body);

/**
 * Answers GET /openapi.yaml, /docs and the page's assets (false for any other path). The document names the
 * server as the request reached it (its Host), so that "Try it out" stays on the page's origin.
 */
export function serveApiDocs(request: IncomingMessage, response: ServerResponse): boolean {
  const path = new URL(request.url ?? '/', 'http://local').pathname;
  const asset = path.startsWith('/docs/') ? path.slice('/docs/'.length) : '';
  if (request.method !== 'GET') return false;
  if (path === '/openapi.yaml') send(response, 'application/yaml; charset=utf-8', localDocument(`http://${request.headers.host ?? '127.0.0.1'}`));
  else if (path === '/docs' || path === '/docs/') send(response, 'text/html; charset=utf-8', PAGE);
  else if (Object.hasOwn(ASSETS, asset)) send(response, ASSETS[asset]!, readFileSync(join(SWAGGER_UI, asset)));
  else return false;
  return true;
}
