/** What the device's turn-taking needs from a connected device (implemented over Baileys by lib/whatsapp/device-connection.ts). */
import type { PinPlanner } from '../pin/pin-policy.js';
import type { PinRequest } from '../pin/whatsapp-port.js';
import type { Lease } from '../session/session-store.js';
import type { BatchRecord } from './device-queue.js';
import type { RequestOutcome } from './turn-outcome.js';

/** Measures a named step of the call (log line, X-Ray subsegment). */
export type Phase = <T>(name: string, work: () => Promise<T>) => Promise<T>;

/** Runs right before a patch that changes the account is sent; may throw to stop it (e.g. a queued request was withdrawn). */
export type BeforeUpload = (upload: { base: number; decisions: Map<string, string>; mutations: Array<[string, boolean, number]> }) => Promise<void>;

/** How a kept link serves a new lease: its connection as it is, a new connection over the session it holds, or not at all. */
export type Reuse = 'open' | 'reconnected' | false;

export interface DeviceLink {
  /**
   * A kept link whose connection closed or idled out starts its next one before the lease is taken, up to
   * the login, which waits for reusable()'s verdict. Returns undefined when it started none; else a promise
   * that resolves once the new connection's first request left (or soon after, whatever happened to it).
   */
  reconnectAhead(by: number): Promise<void> | undefined;
  /**
   * Whether the link can serve under this new lease: nobody changed the session since its commit; then its
   * connection as is (alive, not idle too long) or a new one (`first`'s chat checked at login if unknown).
   */
  reusable(lease: Lease, first: PinRequest, by: number): Promise<Reuse>;
  /** Connects (a cold device) and learns the account's pinned chats when they are not known exactly; `serve` does it first too. */
  ready(by: number, phase: Phase): Promise<void>;
  /** Serves requests (arrival order) as one decision; resolves with each request's outcome. */
  serve(requests: readonly PinRequest[], plan: PinPlanner, by: number, phase: Phase, beforeUpload?: BeforeUpload): Promise<Map<string, RequestOutcome>>;
  /** Whether a batch another holder was uploading landed, after catching up with WhatsApp; undefined when it cannot tell. */
  landed(batch: BatchRecord, by: number, phase: Phase): Promise<boolean | undefined>;
  /** Processes what WhatsApp queued while the device was away (a cold connection), within `by`. */
  drain(by: number, phase: Phase): Promise<void>;
  /**
   * Commits what changed and releases the lease (conditional on the queue: QueueGrewError, nothing
   * written). Resolves whether the connection stays open for the next turn (`keep` asked for it and it is healthy).
   */
  finish(lease: Lease, options: { failure?: unknown; keep: boolean; whenSeq?: number; by: number }): Promise<boolean>;
  /** Ends the connection (no logout). */
  end(): Promise<void>;
  /** For the call's log line. */
  stats(): { appStateVersion: number; conflicts: number; offlineDelivered: number; dynamodbRequests: number };
}

/** Opens a device cold: loads its session under `lease` and starts connecting (for `first`, whose chat's existence check leaves at login). */
export type OpenLink = (lease: Lease, first: PinRequest, openBy: number, phase: Phase) => Promise<DeviceLink>;
