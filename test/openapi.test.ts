import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { createConfig, lint } from '@redocly/openapi-core';
import { parse } from 'yaml';
import { nonConforming, OPENAPI_FILE } from './support/documented.js';
import { loadEvent } from './support/events.js';

describe('openapi.yaml', () => {
  it('lints clean: Redocly recommended-strict, every example valid against its schema', async () => {
    // Prepare
    const config = await createConfig({
      extends: ['recommended-strict'],
      rules: {
        'info-license': 'off', // a private project (package.json "private": true)
        'no-unused-components': 'off', // the Direct*, EventBridge* and Sqs* schemas describe the function's other event sources
        'no-invalid-media-type-examples': { severity: 'error', allowAdditionalProperties: false },
        'no-invalid-parameter-examples': 'error',
        'no-invalid-schema-examples': 'error',
      },
    });
    // Act
    const problems = await lint({ ref: OPENAPI_FILE, config });
    // Assess
    expect(problems.map((problem) => `${problem.ruleId} at ${problem.location[0]?.pointer}: ${problem.message}`)).toEqual([]);
  });

  it('describes the payloads of the other sources: the direct, EventBridge and SQS sample events', () => {
    // Prepare
    const bodies = (name: string) => loadEvent('sqs', name).Records.map((record) => record.body);
    const [valid, invalidJid, , validGroup] = bodies('mixed-batch');
    // Act / Assess
    expect(nonConforming('DirectPinRequest', loadEvent('direct', 'pin'))).toEqual([]);
    expect(nonConforming('DirectPinRequest', loadEvent('direct', 'unpin'))).toEqual([]);
    expect(nonConforming('DirectPinRequest', loadEvent('direct', 'invalid-jid'))).not.toEqual([]);
    expect(nonConforming('EventBridgePinEvent', loadEvent('eventbridge', 'pin'))).toEqual([]);
    for (const body of [...bodies('pin'), valid, validGroup]) expect(nonConforming('DirectPinRequest', JSON.parse(body!))).toEqual([]);
    expect(nonConforming('DirectPinRequest', JSON.parse(invalidJid!))).not.toEqual([]);
  });

  it("matches the README's contract table: the same statuses", () => {
    // Prepare
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('## The contract'), readme.indexOf('\n## ', readme.indexOf('## The contract') + 1));
    const document = parse(readFileSync(OPENAPI_FILE, 'utf8')) as { paths: Record<string, { post: { responses: object } }> };
    // Act
    const inReadme = new Set([...table.matchAll(/^\|[^|]*\| (\d{3}) \|/gm)].map((match) => match[1]));
    const inDocument = new Set(Object.keys(document.paths['/chat/{chat_jid}/pin']!.post.responses));
    // Assess
    expect([...inReadme].sort()).toEqual([...inDocument].sort());
  });
});
