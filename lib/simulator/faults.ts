/** Injected faults, global or scoped to one device. */
import type { BinaryNode } from '@whiskeysockets/baileys';
import type { Fault, StanzaMatch } from './index.js';

const firstChildTag = (node: BinaryNode) => (Array.isArray(node.content) ? node.content[0]?.tag : undefined);

export function matchesStanza(match: StanzaMatch, node: BinaryNode): boolean {
  return (match.tag === undefined || match.tag === node.tag)
    && (match.xmlns === undefined || match.xmlns === node.attrs.xmlns)
    && (match.type === undefined || match.type === node.attrs.type)
    && (match.child === undefined || match.child === firstChildTag(node));
}

export class FaultBook {
  private global: Fault[] = [];
  private byDevice = new Map<string, Fault[]>();

  set(faults: Fault[], deviceJid?: string): void {
    if (deviceJid) this.byDevice.set(deviceJid, [...faults]);
    else this.global = [...faults];
  }

  clear(): void {
    this.global = [];
    this.byDevice.clear();
  }

  /** Device-scoped faults first, then global ones. */
  active(deviceJid?: string): Fault[] {
    return [...(deviceJid ? this.byDevice.get(deviceJid) ?? [] : []), ...this.global];
  }

  has(kind: Fault['kind'], deviceJid?: string): boolean {
    return this.active(deviceJid).some(fault => fault.kind === kind);
  }

  /** The first stanza fault (drop-on, ignore, iq-error) matching an incoming node. */
  forStanza(node: BinaryNode, deviceJid?: string): Extract<Fault, { match: StanzaMatch }> | undefined {
    return this.active(deviceJid).find((fault): fault is Extract<Fault, { match: StanzaMatch }> => 'match' in fault && matchesStanza(fault.match, node));
  }

  latencyMs(deviceJid: string | undefined, fallback: number): number {
    const fault = this.active(deviceJid).find((f): f is Extract<Fault, { kind: 'latency' }> => f.kind === 'latency');
    return fault ? fault.ms : fallback;
  }

  snapshot(): { global: Fault[]; byDevice: Record<string, Fault[]> } {
    return { global: this.global, byDevice: Object.fromEntries(this.byDevice) };
  }
}
