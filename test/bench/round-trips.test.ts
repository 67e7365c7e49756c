import { describe, expect, it } from '@jest/globals';
import { countRoundTrips } from '../../bench/round-trips.js';
import type { StanzaRecord } from '../../lib/simulator/index.js';

const iq = (direction: 'in' | 'out', id: string, type: string, xmlns?: string): StanzaRecord => ({ connectionId: 1, direction, tag: 'iq', id, type, xmlns, at: 0 });

// A login as the simulator records it: <success>, then the client's IQs and the answers, in arrival order.
// Client-side times (ms): hello 0 → 10, finish 10 → 20, count and usync sent together at 20 and answered at 28 and 29,
// passive sent at 30 → 40, patch sent at 40 → 50.
const record: StanzaRecord[] = [
  { connectionId: 1, direction: 'out', tag: 'success', at: 0 },
  iq('in', 'count', 'get', 'encrypt'),
  iq('in', 'usync', 'get', 'usync'),
  iq('out', 'count', 'result'),
  iq('out', 'usync', 'result'),
  iq('in', 'passive', 'set', 'passive'),
  iq('out', 'passive', 'result'),
  iq('in', 'patch', 'set', 'w:sync:app:state'),
  iq('out', 'patch', 'result'),
];
const wire = { sent: [0, 10, 20, 20, 30, 40], received: [10, 20, 28, 29, 40, 50] };

describe('countRoundTrips', () => {
  it('counts the longest chain of requests each sent after the previous answer arrived; concurrent requests share a round trip', () => {
    // Act
    const trips = countRoundTrips([wire], record, 0, 60);
    // Assess
    expect(trips).toEqual({ count: 5, path: ['noise-hello', 'noise-finish', 'iq encrypt + iq usync', 'iq passive', 'iq w:sync:app:state'] });
  });

  it('counts only the requests sent in the window (a warm pin on an open socket)', () => {
    // Act
    const trips = countRoundTrips([wire], record, 35, 60);
    // Assess
    expect(trips).toEqual({ count: 1, path: ['iq w:sync:app:state'] });
  });

  it('gives up when the proxy and the simulator saw a different number of connections', () => {
    // Act
    const trips = countRoundTrips([wire, wire], record, 0, 60);
    // Assess
    expect(trips).toBeUndefined();
  });
});
