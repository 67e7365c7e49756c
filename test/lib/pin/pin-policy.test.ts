import { describe, expect, it } from '@jest/globals';
import { pinPolicy } from '../../../lib/pin/pin-policy.js';

const pinned = (...chats: string[]) => new Map(chats.map((chat, i) => [chat, 1_000 + i]));
const request = (id: string, chatJid: string, wanted: boolean) => ({ id, chatJid, pinned: wanted });

describe('pinPolicy', () => {
  it('refuses a pin when 3 other chats are pinned, and changes nothing', () => {
    // Act
    const plan = pinPolicy(3)(pinned('a', 'b', 'c'), [request('r1', 'd', true)]);
    // Assess
    expect(plan.decisions.get('r1')).toBe('limit');
    expect(plan.changes.size).toBe(0);
  });

  it('pins a third chat next to two', () => {
    const plan = pinPolicy(3)(pinned('a', 'b'), [request('r1', 'c', true)]);
    expect(plan.decisions.get('r1')).toBe('change');
    expect([...plan.changes]).toEqual([['c', true]]);
  });

  it('leaves a chat already in the requested state alone: a repeated pin, an unpin of an unpinned chat', () => {
    const plan = pinPolicy(3)(pinned('a', 'b', 'c'), [request('r1', 'a', true), request('r2', 'z', false)]);
    expect([...plan.decisions]).toEqual([['r1', 'unchanged'], ['r2', 'unchanged']]);
    expect(plan.changes.size).toBe(0);
  });

  it('decides requests in arrival order on the state the earlier ones left', () => {
    // Prepare: 2 pinned; d and e both want the third place, then a is unpinned, then e asks again
    const requests = [request('1', 'd', true), request('2', 'e', true), request('3', 'a', false), request('4', 'e', true)];
    // Act
    const plan = pinPolicy(3)(pinned('a', 'b'), requests);
    // Assess
    expect([...plan.decisions]).toEqual([['1', 'change'], ['2', 'limit'], ['3', 'change'], ['4', 'change']]);
    expect(Object.fromEntries(plan.changes)).toEqual({ d: true, a: false, e: true });
  });

  it('uploads only net changes: a chat pinned then unpinned in one batch is not touched', () => {
    const plan = pinPolicy(3)(pinned(), [request('1', 'a', true), request('2', 'a', false)]);
    expect([...plan.decisions]).toEqual([['1', 'change'], ['2', 'change']]);
    expect(plan.changes.size).toBe(0);
  });

  it('0 disables the cap (idempotency stays)', () => {
    const plan = pinPolicy(0)(pinned('a', 'b', 'c', 'd'), [request('1', 'e', true), request('2', 'a', true)]);
    expect([...plan.decisions]).toEqual([['1', 'change'], ['2', 'unchanged']]);
  });

  it('unpins are never capped, even on an account already over the limit', () => {
    const plan = pinPolicy(3)(pinned('a', 'b', 'c', 'd'), [request('1', 'a', false), request('2', 'e', true)]);
    expect([...plan.decisions]).toEqual([['1', 'change'], ['2', 'limit']]);
  });
});
