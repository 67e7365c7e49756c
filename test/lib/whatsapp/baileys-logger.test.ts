import { describe, expect, it } from '@jest/globals';
import type { BinaryNode } from '@whiskeysockets/baileys';
import { baileysLogger } from '../../../lib/whatsapp/baileys-logger.js';
import { expectLogs } from '../../support/expected-logs.js';

/** The node Baileys receives as `<stream:error>` and logs as "stream errored out". */
const streamError = (attrs: Record<string, string>, reason?: string): BinaryNode => ({ tag: 'stream:error', attrs, content: reason ? [{ tag: reason, attrs: { type: 'replaced' } }] : [] });

describe('baileysLogger', () => {
  it.each([
    ['a newer login replacing this connection (conflict, 440)', 'INFO', streamError({}, 'conflict'), { statusCode: 440, reason: 'conflict' }],
    ['the restart WhatsApp asks for after pairing (515)', 'INFO', streamError({ code: '515' }), { statusCode: 515, reason: 'restart required' }],
    ['the device removed from the phone (401)', 'WARN', streamError({ code: '401' }), { statusCode: 401 }],
  ])('logs a stream error for %s at %s with its code, nothing of the node', async (_case, level, node, fields) => {
    // Act
    const { logs } = await expectLogs(async () => baileysLogger.error({ reasonNode: (node.content as BinaryNode[])[0], fullErrorNode: node }, 'stream errored out'));
    // Assess
    expect(logs).toEqual([expect.objectContaining({ level, message: 'stream errored out', source: 'baileys', ...fields })]);
    expect(Object.keys(logs[0]!)).not.toContain('fullErrorNode');
  });

  it("logs Baileys' other errors as WARN, with the error's message only", async () => {
    // Act
    const { logs } = await expectLogs(async () => baileysLogger.error({ err: new Error('lease lost'), key: { private: Buffer.alloc(32) } }, 'transaction failed, rolling back'));
    // Assess
    expect(logs).toEqual([expect.objectContaining({ level: 'WARN', message: 'transaction failed, rolling back', source: 'baileys', error: 'lease lost' })]);
    expect(JSON.stringify(logs[0])).not.toContain('private');
  });
});
