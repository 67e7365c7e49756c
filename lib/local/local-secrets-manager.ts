import { createServer, type Server } from 'node:http';

export interface LocalSecretsManager {
  /** For AWS_ENDPOINT_URL_SECRETS_MANAGER. */
  endpoint: string;
  /** Sets (or rotates) a secret's string value. */
  put(secretId: string, value: string): void;
  /** GetSecretValue calls served so far. */
  calls(): number;
  stop(): Promise<void>;
}

/**
 * A loopback Secrets Manager endpoint speaking the awsJson1_1 `GetSecretValue` operation, so the real
 * SDK client (and Powertools' cache in front of it) runs unchanged on a laptop and in cold-start tests.
 * No emulator of Secrets Manager exists on npm; this is the edge, nothing more.
 */
export async function startLocalSecretsManager(port = 0): Promise<LocalSecretsManager> {
  const secrets = new Map<string, string>();
  let served = 0;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const reply = (status: number, body: unknown) => {
        response.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.1' }).end(JSON.stringify(body));
      };
      if (request.headers['x-amz-target'] !== 'secretsmanager.GetSecretValue') {
        return reply(400, { __type: 'UnknownOperationException', message: 'only GetSecretValue is served locally' });
      }
      let secretId: unknown;
      try {
        secretId = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { SecretId?: unknown }).SecretId;
      } catch {
        return reply(400, { __type: 'InvalidRequestException', message: 'body is not JSON' });
      }
      const value = typeof secretId === 'string' ? secrets.get(secretId) : undefined;
      if (value === undefined) return reply(400, { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." });
      served++;
      reply(200, { ARN: `arn:aws:secretsmanager:local:000000000000:secret:${secretId}`, Name: secretId, SecretString: value, VersionId: 'local', CreatedDate: 0 });
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${bound}`,
    put: (secretId, value) => void secrets.set(secretId, value),
    calls: () => served,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
