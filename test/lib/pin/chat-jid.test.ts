import { describe, expect, it } from '@jest/globals';
import { parseChatJid } from '../../../lib/pin/chat-jid.js';

describe('parseChatJid', () => {
  it.each([
    ['6289685028129@s.whatsapp.net', '6289685028129@s.whatsapp.net'],
    ['120363025246125486@g.us', '120363025246125486@g.us'],
    ['6281234567890-1596452341@g.us', '6281234567890-1596452341@g.us'],
    ['123456789012345@lid', '123456789012345@lid'],
    ['6289685028129', '6289685028129@s.whatsapp.net'],
    ['+6289685028129', '6289685028129@s.whatsapp.net'],
    ['+62 896-8502-8129', '6289685028129@s.whatsapp.net'],
    ['1 415 555 0100', '14155550100@s.whatsapp.net'],
  ])('accepts %j as %s', (raw, expected) => {
    expect(parseChatJid(raw)).toBe(expected);
  });

  it.each([
    ['device suffix', '6289685028129:12@s.whatsapp.net'],
    ['device suffix on a LID', '123456789012345:3@lid'],
    ['letters', '62896abc85028129'],
    ['letters in a JID', 'abc@s.whatsapp.net'],
    ['unknown server', '6289685028129@c.us'],
    ['newsletter', '120363025246125486@newsletter'],
    ['broadcast', 'status@broadcast'],
    ['empty', ''],
    ['only a plus', '+'],
    ['plus in the middle', '62+89685028129'],
    ['parentheses', '+1 (415) 555-0100'],
    ['dots', '62.896.8502.8129'],
    ['too short', '1234'],
    ['too long', '1'.repeat(21)],
    ['leading zero (local format, ambiguous)', '089685028129'],
    ['a tab', '62896850\t28129'],
    ['a newline', '6289685028129\n'],
    ['a NUL', '6289685028129\u0000'],
    ['a bidi override', '\u202e6289685028129'],
    ['a zero-width space', '62896\u200b85028129'],
    ['full-width digits', '６２８９６８５０２８１２９'],
    ['Arabic-Indic digits', '٦٢٨٩٦٨٥٠٢٨١٢٩'],
    ['percent-encoded leftovers', '6289685028129%40s.whatsapp.net'],
    ['path traversal', '../6289685028129@s.whatsapp.net'],
    ['uppercase server', '6289685028129@S.WHATSAPP.NET'],
    ['two @', '6289685028129@@s.whatsapp.net'],
    ['a number', 6289685028129],
    ['null', null],
  ])('rejects %s', (_case, raw) => {
    expect(() => parseChatJid(raw)).toThrow('chat_jid: invalid JID');
  });
});
