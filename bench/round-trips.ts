/** Sequential WhatsApp round trips of one pin, from client-side frame times and the simulator's stanza record. */
import type { StanzaRecord } from '../lib/simulator/index.js';
import type { WireConnection } from './wire-proxy.js';

interface Request {
  label: string;
  sent: number;
  answered?: number;
}

export interface RoundTrips {
  count: number;
  /** The critical path, e.g. ['noise-hello', 'noise-finish', 'iq encrypt', …, 'iq w:sync:app:state']. */
  path: string[];
}

/**
 * A round trip is a request the client sent only after the answer to an earlier request had reached
 * it. Requests: the Noise hello (answered by the server hello), the Noise finish (answered by
 * <success>/<failure>), and every IQ get/set (answered by the iq result/error with its id). A
 * request's depth is 1 + the largest depth among requests whose answer had reached the client before
 * it left (1 if none); the pin's round trips are the largest depth among its answered requests. So
 * requests sent together (the existence check beside Baileys' login IQs) share one round trip, and
 * a pin over an already open socket counts only its own IQs. Exact with latency; at 0 ms an
 * independent request that happens to leave after an unrelated answer counts as waiting on it (an
 * upper bound).
 *
 * Wire connections and simulator connections are paired in order (only those that got past the
 * Noise hello); frames pair with stanzas by position: client frame 2+i ↔ i-th incoming stanza,
 * server frame 1+j ↔ j-th outgoing stanza. Returns undefined when the two views disagree.
 */
export function countRoundTrips(wires: WireConnection[], record: StanzaRecord[], from: number, to: number): RoundTrips | undefined {
  const simConnections = [...new Set(record.map((entry) => entry.connectionId))].sort((a, b) => a - b);
  const loggedIn = wires.filter((wire) => wire.sent.length >= 2);
  if (loggedIn.length !== simConnections.length) return undefined;
  const requests: Request[] = [];
  loggedIn.forEach((wire, index) => {
    const stanzas = record.filter((entry) => entry.connectionId === simConnections[index]);
    const ins = stanzas.filter((entry) => entry.direction === 'in');
    const outs = stanzas.filter((entry) => entry.direction === 'out');
    requests.push({ label: 'noise-hello', sent: wire.sent[0]!, answered: wire.received[0] });
    requests.push({ label: 'noise-finish', sent: wire.sent[1]!, answered: wire.received[1] });
    ins.forEach((stanza, i) => {
      if (stanza.tag !== 'iq' || (stanza.type !== 'get' && stanza.type !== 'set')) return;
      const answer = outs.findIndex((out) => out.tag === 'iq' && out.id === stanza.id && (out.type === 'result' || out.type === 'error'));
      const sent = wire.sent[2 + i];
      if (sent === undefined) return;
      requests.push({ label: `iq ${stanza.xmlns ?? ''}`.trim(), sent, answered: answer < 0 ? undefined : wire.received[1 + answer] });
    });
  });
  const inWindow = requests.filter((request) => request.sent >= from && request.sent <= to).sort((a, b) => a.sent - b.sent);
  const depth = new Map<Request, { depth: number; previous?: Request }>();
  for (const request of inWindow) {
    let best: { depth: number; previous?: Request } = { depth: 1 };
    for (const [earlier, { depth: d }] of depth) {
      if (earlier.answered === undefined || earlier.answered > request.sent) continue;
      if (d + 1 > best.depth) best = { depth: d + 1, previous: earlier };
    }
    depth.set(request, best);
  }
  let last: Request | undefined;
  for (const [request, { depth: d }] of depth) if (request.answered !== undefined && d > (last ? depth.get(last)!.depth : 0)) last = request;
  // Each step is named by every request of that depth already answered when the next step left (requests sent together).
  const path: string[] = [];
  let next: Request | undefined;
  for (let step = last; step; next = step, step = depth.get(step)!.previous) {
    const level = depth.get(step)!.depth;
    const together = [...depth].filter(([request, { depth: d }]) => d === level && (next ? request.answered !== undefined && request.answered <= next.sent : request === step));
    path.unshift([...new Set([step.label, ...together.map(([request]) => request.label)])].join(' + '));
  }
  return { count: path.length, path };
}
