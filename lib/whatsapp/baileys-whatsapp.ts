import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { DeviceBusyError, NotLoggedInError, WhatsAppTimeoutError } from '../errors.js';
import { logger, metrics, tracer } from '../observability.js';
import type { PinDecision, PinPlanner } from '../pin/pin-policy.js';
import type { PinChatCommand, PinChatContext, PinRequest, WhatsAppPort } from '../pin/whatsapp-port.js';
import type { Lease, SessionStore } from '../session/session-store.js';
import { DeviceConnection, type DeviceConnectionOptions, type Phase } from './device-connection.js';

export interface BaileysWhatsAppOptions extends DeviceConnectionOptions {
  leaseSeconds: number;
  /** Keep the connection and the in-memory session between calls of a warm instance (default true). */
  keepWarm?: boolean;
}

/** Time kept after WhatsApp answered for draining, ending the socket and the final commit. */
const COMMIT_RESERVE_MS = 1_500;
/** At most this long is spent on a queued offline backlog after the pin; the rest waits for the next call. */
const DRAIN_BUDGET_MS = 2_000;
/** A warm connection idle for longer is not trusted (a frozen Lambda sends no keep-alives). */
const MAX_IDLE_MS = 25_000;

/**
 * The WhatsApp port over Baileys and the DynamoDB session store. A cold call: lease → load → connect
 * (existence check ∥ login IQs) → serve the request (lib/whatsapp/device-connection.ts) → drain offline
 * traffic → fenced commit that releases the lease. A warm instance keeps the connection and memory: the
 * next call re-takes the lease, and if the session version it reads back is the one it committed, pins
 * with one round trip; otherwise it reloads.
 */
export class BaileysWhatsApp implements WhatsAppPort {
  private readonly warm = new Map<string, DeviceConnection>();

  constructor(
    private readonly store: SessionStore,
    private readonly options: BaileysWhatsAppOptions,
  ) {}

  async setChatPinned(command: PinChatCommand, context: PinChatContext, plan: PinPlanner): Promise<PinDecision> {
    const { deviceId } = command;
    const request: PinRequest = { id: context.invocationId, chatJid: command.chatJid, pinned: command.pinned };
    const timings: Record<string, number> = {};
    const started = performance.now();
    const phase: Phase = async (name, work) => {
      const begin = performance.now();
      const segment = tracer.isTracingEnabled() ? tracer.getSegment()?.addNewSubsegment(`### ${name}`) : undefined;
      try {
        return await work();
      } finally {
        segment?.close();
        timings[name] = (timings[name] ?? 0) + Math.round(performance.now() - begin);
      }
    };
    const lease = await phase('lease', () => this.store.acquireLease(deviceId, context.invocationId, this.options.leaseSeconds));
    let connection = await this.takeWarm(lease, context.deadline);
    const warm = connection !== undefined;
    let failure: unknown;
    let decision: PinDecision | undefined;
    const answerBy = context.deadline - COMMIT_RESERVE_MS;
    try {
      try {
        connection ??= await this.connect(lease, request, answerBy, phase);
        decision = await this.pin(connection, request, plan, context.deadline, phase);
      } catch (error) {
        // A warm connection that died while the instance was frozen: reconnect once, transparently.
        const died = error instanceof WhatsAppTimeoutError || error instanceof DeviceBusyError;
        if (!warm || !died || connection?.socket.isOpen !== false) throw error;
        await connection.socket.end();
        connection = await this.connect(lease, request, answerBy, phase);
        decision = await this.pin(connection, request, plan, context.deadline, phase);
      }
    } catch (error) {
      failure = error;
    }
    await phase('commit', () => this.finish(lease, connection, failure, context.deadline));
    metrics.addMetric(failure === undefined ? 'PinAccepted' : 'PinFailed', MetricUnit.Count, 1);
    metrics.addMetric('PinLatency', MetricUnit.Milliseconds, Math.round(performance.now() - started));
    metrics.addMetric(warm ? 'WarmConnectionReused' : 'ColdConnection', MetricUnit.Count, 1);
    if (connection?.sync.conflicts) metrics.addMetric('ConflictRetries', MetricUnit.Count, connection.sync.conflicts);
    if (connection?.socket.offlineDelivered) metrics.addMetric('OfflineMessagesDrained', MetricUnit.Count, connection.socket.offlineDelivered);
    logger.info('pin call', {
      deviceId,
      chatJid: command.chatJid,
      pinned: command.pinned,
      outcome: failure === undefined ? decision : (failure as Error).name,
      warm,
      timings,
      conflicts: connection?.sync.conflicts,
      appStateVersion: connection?.sync.collection.version,
      offlineDelivered: connection?.socket.offlineDelivered,
      // lease + load (when not warm) + what the auth state sent (reads, write-throughs, commit) or the bare release
      dynamodbRequests: 1 + (timings.load === undefined ? 0 : 1) + (connection ? connection.auth.requests() : 1),
    });
    if (failure !== undefined) throw failure;
    return decision!;
  }

  /** Ends every kept connection (tests, local runner shutdown). */
  async close(): Promise<void> {
    const connections = [...this.warm.values()];
    this.warm.clear();
    await Promise.all(connections.map((connection) => connection.socket.end()));
  }

  /** The warm connection of the lease's device, if it is still ours, alive and unchanged by anyone else. */
  private async takeWarm(lease: Lease, deadline: number): Promise<DeviceConnection | undefined> {
    const connection = this.warm.get(lease.deviceId);
    this.warm.delete(lease.deviceId);
    if (!connection) return undefined;
    // Work Baileys started between calls (e.g. a key share) writes under the released lease and fails:
    // let it finish first, so that a failure discards this memory.
    await connection.socket.settle(Math.min(deadline, Date.now() + 1_000));
    const usable =
      connection.socket.isOpen &&
      !connection.auth.failed() &&
      connection.sessionVersion !== undefined &&
      connection.sessionVersion === lease.sessionVersion &&
      Date.now() - connection.idleSince < MAX_IDLE_MS;
    if (!usable) {
      await connection.socket.end();
      return undefined;
    }
    connection.auth.rebind(lease);
    connection.sync.conflicts = 0;
    return connection;
  }

  private async connect(lease: Lease, first: PinRequest, openBy: number, phase: Phase): Promise<DeviceConnection> {
    const snapshot = await phase('load', () => this.store.load(lease.deviceId));
    return DeviceConnection.open(this.store, lease, snapshot, first, { ...this.options, openBy });
  }

  private async pin(connection: DeviceConnection, request: PinRequest, plan: PinPlanner, deadline: number, phase: Phase): Promise<PinDecision> {
    const cold = !connection.isOpened;
    const outcomes = await connection.serve([request], plan, deadline - COMMIT_RESERVE_MS, phase);
    const outcome = outcomes.get(request.id)!;
    // What WhatsApp queued while we were away is processed after the pin, within the remaining budget.
    if (cold) {
      const by = Math.min(Date.now() + DRAIN_BUDGET_MS, deadline - COMMIT_RESERVE_MS);
      connection.drained = (await phase('drain', () => connection.socket.drain(by))).complete;
    }
    if (outcome instanceof Error) throw outcome;
    return outcome;
  }

  /**
   * Commits what changed and releases the lease in one fenced transaction, whatever happened. A
   * healthy connection is kept warm; anything else is ended first, so no late write races the commit.
   */
  private async finish(lease: Lease, connection: DeviceConnection | undefined, failure: unknown, deadline: number): Promise<void> {
    const keep = failure === undefined && this.options.keepWarm !== false && connection?.socket.isOpen === true && connection.drained !== false;
    try {
      if (!connection) return await this.store.releaseLease(lease);
      if (!keep) await connection.socket.end();
      await connection.socket.settle(deadline - COMMIT_RESERVE_MS / 2);
      await connection.stageAppState();
      const loggedOut = failure instanceof NotLoggedInError && failure.reason === 'logged-out';
      connection.sessionVersion = await connection.auth.commit(loggedOut ? { state: 'logged-out' } : undefined);
      connection.idleSince = Date.now();
      if (keep && !connection.auth.failed()) this.warm.set(lease.deviceId, connection);
      else if (keep) await connection.socket.end();
    } catch (error) {
      // After WhatsApp accepted the pin the answer stays 200: the next call catches up with a 409.
      logger.error('session commit failed', { error, pinAccepted: failure === undefined });
      this.warm.delete(lease.deviceId);
      await connection?.socket.end();
      await this.store.releaseLease(lease).catch(() => undefined);
    }
  }
}
