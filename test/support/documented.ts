/**
 * The contract as a check: answers are validated against openapi.yaml by openapi-backend, with Ajv's 2020-12
 * dialect (OpenAPI 3.1's). Whatever the document does not describe (a status, a content type, a header, a
 * body) fails the test that got it.
 *
 *   handler = documented(handler);                       // every answer of the handler, whatever the event
 *   expectDocumented({ statusCode, headers, body });     // one HTTP answer (from fetch, curl, invoke…)
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import { OpenAPIBackend, SetMatchType, type Document } from 'openapi-backend';
import { parse } from 'yaml';
import { isHttpEvent, isSqsEvent } from '../../lib/http/invocation-event.js';

export const OPENAPI_FILE = fileURLToPath(new URL('../../openapi.yaml', import.meta.url));

const api = new OpenAPIBackend({
  definition: parse(readFileSync(OPENAPI_FILE, 'utf8')) as Document,
  quick: true,
  strict: true,
  customizeAjv: (_ajv, options) => new Ajv2020({ ...options, strict: false }),
});
await api.init();

interface DescribedResponse {
  content?: Record<string, unknown>;
  headers?: Record<string, { required?: boolean }>;
}
const operation = api.getOperation('pinChat')!;
const responses = operation.responses as Record<string, DescribedResponse>;
const schemas = api.definition.components!.schemas!;
const ajv = new Ajv2020({ strict: false });
/** Headers of the transport (Node's HTTP server, API Gateway), not of the function. */
const TRANSPORT_HEADERS = new Set(['content-length', 'date', 'connection', 'keep-alive', 'transfer-encoding']);

export interface HttpAnswer {
  statusCode: number;
  headers?: Record<string, unknown>;
  body?: string;
}

const explained = (where: string, errors: ErrorObject[] | null | undefined) =>
  (errors ?? []).map((error) => `${where}${error.instancePath} ${error.message} ${JSON.stringify(error.params)}`);

/** What the document does not describe in this answer of POST /chat/{chat_jid}/pin (nothing: []). */
export function undocumented(answer: HttpAnswer): string[] {
  const status = String(answer.statusCode);
  const described = responses[status];
  if (!described) return [`status ${status} is not documented`];
  const headers = Object.fromEntries(Object.entries(answer.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]));
  const { 'content-type': contentType, ...others } = headers;
  const documentedHeaders = Object.fromEntries(Object.entries(described.headers ?? {}).map(([name, header]) => [name.toLowerCase(), header]));
  const problems: string[] = [];
  if (!described.content?.[String(contentType).split(';')[0]!.trim()]) problems.push(`content type ${contentType} is not documented for ${status}`);
  for (const name of Object.keys(others)) if (!documentedHeaders[name] && !TRANSPORT_HEADERS.has(name)) problems.push(`header ${name} is not documented for ${status}`);
  for (const [name, header] of Object.entries(documentedHeaders)) if (header.required && others[name] === undefined) problems.push(`header ${name} is required for ${status}`);
  problems.push(...explained('', api.validateResponseHeaders(others, operation, { statusCode: answer.statusCode, setMatchType: SetMatchType.Any }).errors));
  let body: unknown;
  try {
    body = JSON.parse(answer.body ?? '');
  } catch {
    return [...problems, `body is not JSON: ${answer.body}`];
  }
  return [...problems, ...explained('body', api.validateResponse(body, operation, answer.statusCode).errors)];
}

/** Where `value` does not conform to the document's schema `components/schemas/<name>` (nowhere: []). */
export function nonConforming(name: string, value: unknown): string[] {
  if (!ajv.getSchema(name)) ajv.addSchema(schemas[name]!, name);
  const validate = ajv.getSchema(name)!;
  return validate(value) ? [] : explained(name, validate.errors);
}

/** What the document does not describe in this answer to `event` (an HTTP, SQS or direct invocation). */
export function undocumentedResult(event: unknown, result: unknown): string[] {
  if (isHttpEvent(event)) return undocumented(result as HttpAnswer);
  return nonConforming(isSqsEvent(event) ? 'SqsBatchResponse' : 'DirectPinResponse', result);
}

function fail(problems: string[], answer: unknown): void {
  if (problems.length) throw new Error(`openapi.yaml does not describe this answer:\n  ${problems.join('\n  ')}\n${JSON.stringify(answer)}`);
}

export const expectDocumented = (answer: HttpAnswer): void => fail(undocumented(answer), answer);

/** The handler, checking each of its answers against the document. */
export function documented<H extends (event: any, context: any) => Promise<unknown>>(handler: H): H {
  return (async (event: unknown, context: unknown) => {
    const result = await handler(event, context);
    fail(undocumentedResult(event, result), result);
    return result;
  }) as H;
}
