/**
 * The device's turn-taking: one connection per device, every caller served. A call takes the device's
 * lease and serves its request on the device's connection (the warm one this instance kept, or a new
 * login); a call that finds the lease held queues its request (./device-queue.ts) and waits. Before it
 * releases, the holder serves what was queued meanwhile on the same connection, in arrival order, the
 * requests queued together decided together and sent as one patch. Callers are answered with their own
 * request's outcome. A holder that dies leaves its lease to expire: a waiting caller takes over, resolves
 * what the dead holder was uploading (landed or not, from WhatsApp's own patches), and serves the rest.
 */
import { randomUUID } from 'node:crypto';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { AppStateKeyMissingError, DeviceBusyError, NotLoggedInError, WhatsAppTimeoutError } from '../errors.js';
import { logger, metrics, tracer } from '../observability.js';
import type { PinDecision, PinPlanner } from '../pin/pin-policy.js';
import type { PinChatCommand, PinChatContext, PinRequest, WhatsAppPort } from '../pin/whatsapp-port.js';
import { QueueGrewError, type Lease, type SessionStore } from '../session/session-store.js';
import type { BeforeUpload, DeviceLink, OpenLink, Phase } from './device-link.js';
import type { DeviceQueue, DeviceQueueView, QueuedRequest } from './device-queue.js';
import { decodeOutcome, encodeOutcome, type RequestOutcome } from './turn-outcome.js';

export interface DeviceTurnsOptions {
  leaseSeconds: number;
  /**
   * Takes over the rest of a turn once its caller's own request has its outcome (serving what queued meanwhile,
   * draining, the commit and the release) to finish it after the response (lib/lambda-runtime/after-response.ts);
   * false, or absent: the caller waits for it.
   */
  finishAfterResponse?: (rest: Promise<unknown>) => boolean;
}

/** Time kept after WhatsApp answered for draining, ending the socket and the final commit. */
const COMMIT_RESERVE_MS = 1_500;
/** A queued request is withdrawn this long before its caller's deadline unless a holder claimed it. */
const WITHDRAW_BEFORE_MS = 4_000;
/** A waiting caller answers at the latest this long before its deadline. */
const ANSWER_MARGIN_MS = 500;
/** A claimed request's WhatsApp work ends this long after its withdrawal time: its outcome then still reaches its caller. */
const CLAIMED_GRACE_MS = WITHDRAW_BEFORE_MS - ANSWER_MARGIN_MS - 1_500;
/** A holder claims only requests with at least this long before their withdrawal, and starts a batch only with this long left. */
const MIN_TURN_MS = 1_000;
/** Most requests decided and sent together. */
const MAX_BATCH = 50;
/**
 * Once its own request is answered, a holder serves what others queued for at most this long more (after its
 * response when the turn finishes after it, else its caller waits): then it releases, and a waiting caller takes
 * the turn with a connection of its own.
 */
const HANDOFF_MS = 5_000;
/** Waiting callers poll the lease item: first after this long, then less and less often. */
const POLL_FIRST_MS = 200;
const POLL_MAX_MS = 1_000;
const POLL_GROWTH = 1.6;
/**
 * A holder whose connection took this long (a slow network, a long backlog) reads the queue again before
 * its first patch, so that callers queued meanwhile go with it rather than after it, nearer their deadlines.
 * A quicker one learns of them from its conditional release (QueueGrewError), which costs an uncontended pin nothing.
 */
const REREAD_AFTER_MS = 2_000;
/** Answered requests whose callers never came for the outcome are removed this long after their withdrawal time. */
const STALE_AFTER_MS = 60_000;
/** Takes of the lease before a caller gives up (each lost race means another caller now holds it). */
const MAX_TAKES = 3;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A batch's upload was stopped: one of its queued requests was withdrawn before the claim. */
class BatchWithdrawn extends Error {}

/** What one call did, for its log line and metrics. */
class CallRecord {
  readonly timings: Record<string, number> = {};
  readonly started = performance.now();
  role: 'holder' | 'waiter' = 'holder';
  /** The connection it served on: kept open from an earlier call, or a new one (a kept session reconnected, or a cold login). */
  connection: 'warm' | 'reconnected' | 'cold' = 'cold';
  polls = 0;
  batches = 0;
  served = 0;
  link?: DeviceLink;
  /** The caller's own outcome, as soon as it is known (the turn may go on: queued requests, the commit). */
  readonly answer: Promise<RequestOutcome>;
  answered!: (outcome: RequestOutcome) => void;
  /** When the own outcome was known (performance.now()): the caller's latency, whatever the turn did after. */
  answeredAt?: number;

  constructor() {
    this.answer = new Promise((resolve) => {
      this.answered = (outcome) => {
        this.answeredAt ??= performance.now();
        resolve(outcome);
      };
    });
  }

  readonly phase: Phase = async (name, work) => {
    const begin = performance.now();
    // After the answer the handler's trace is closed: later steps are in the log line only.
    const segment = this.answeredAt === undefined && tracer.isTracingEnabled() ? tracer.getSegment()?.addNewSubsegment(`### ${name}`) : undefined;
    try {
      return await work();
    } finally {
      segment?.close();
      this.timings[name] = (this.timings[name] ?? 0) + Math.round(performance.now() - begin);
    }
  };
}

export class DeviceTurns implements WhatsAppPort {
  /** Connections this instance keeps between turns, by device. */
  private readonly warm = new Map<string, DeviceLink>();
  /** Turns answered and still finishing after their response, by device. */
  private readonly finishing = new Map<string, Promise<unknown>>();

  constructor(
    private readonly queue: DeviceQueue,
    private readonly sessions: SessionStore,
    private readonly open: OpenLink,
    private readonly options: DeviceTurnsOptions,
  ) {}

  /**
   * Answers with the caller's own outcome as soon as it is known; the rest of the turn finishes after the
   * response when it can (`finishAfterResponse`), else before it. A turn of the same device still finishing in
   * this instance goes first (SQS records of one device, one after another).
   */
  async setChatPinned(command: PinChatCommand, context: PinChatContext, plan: PinPlanner): Promise<PinDecision> {
    await this.finishing.get(command.deviceId);
    const call = new CallRecord();
    const request: PinRequest = { id: context.invocationId, chatJid: command.chatJid, pinned: command.pinned };
    const turn = this.take(command.deviceId, request, context.deadline, plan, call).catch((error: unknown) => (error instanceof Error ? error : new Error(`the pin failed: ${String(error)}`)));
    const reported = turn.then((outcome) => this.report(command, call, outcome));
    const { outcome, early } = await Promise.race([call.answer.then((outcome) => ({ outcome, early: true })), turn.then((outcome) => ({ outcome, early: false }))]);
    if (early && this.options.finishAfterResponse?.(reported)) this.finishLater(command.deviceId, reported);
    else await reported;
    if (outcome instanceof Error) throw outcome;
    return outcome;
  }

  private finishLater(deviceId: string, rest: Promise<unknown>): void {
    const done: Promise<unknown> = rest.finally(() => this.finishing.get(deviceId) === done && this.finishing.delete(deviceId));
    this.finishing.set(deviceId, done);
  }

  /** Ends every kept connection, once the turns still finishing are done (tests, local runner shutdown). */
  async close(): Promise<void> {
    await Promise.all(this.finishing.values());
    const links = [...this.warm.values()];
    this.warm.clear();
    await Promise.all(links.map((link) => link.end()));
  }

  /** Takes the device's turn now, or queues the request and waits for it. */
  private async take(deviceId: string, request: PinRequest, deadline: number, plan: PinPlanner, call: CallRecord): Promise<RequestOutcome> {
    for (let take = 1; ; take++) {
      let busy: DeviceBusyError;
      // A kept link whose connection went stale connects again while the lease is taken (its login waits for the lease).
      const ahead = this.warm.get(deviceId)?.reconnectAhead(deadline - COMMIT_RESERVE_MS);
      // Its first request leaves before the lease's: the connection is the pin's critical path.
      await ahead;
      try {
        const { lease, view } = await call.phase('lease', () => this.queue.acquire(deviceId, request.id, this.options.leaseSeconds)).catch((error: unknown) => {
          // Held by another caller, who will change the session (or not taken at all): the kept link would not serve.
          if (ahead) this.dropWarm(deviceId);
          throw error;
        });
        return await this.hold(lease, view, request, false, deadline, plan, call);
      } catch (error) {
        if (!(error instanceof DeviceBusyError) || call.link) throw error;
        busy = error;
      }
      const until = deadline - WITHDRAW_BEFORE_MS;
      if (take === MAX_TAKES || until - Date.now() < MIN_TURN_MS) throw busy;
      if ((await this.queue.enqueue(deviceId, { ...request, at: Date.now(), until })) === 'free') continue;
      call.role = 'waiter';
      return this.wait(deviceId, request, until, deadline, plan, call);
    }
  }

  /**
   * A queued caller polls its request: its outcome, or a free lease (the holder finished or died: take
   * over), or withdrawal time (409 busy, nothing was sent for it), or, once claimed, its deadline (504:
   * it may have been applied).
   */
  private async wait(deviceId: string, request: PinRequest, until: number, deadline: number, plan: PinPlanner, call: CallRecord): Promise<RequestOutcome> {
    const waited = performance.now();
    try {
      for (let interval = POLL_FIRST_MS; ; interval = Math.min(POLL_MAX_MS, interval * POLL_GROWTH)) {
        await sleep(Math.max(0, Math.min(interval, deadline - ANSWER_MARGIN_MS - Date.now())));
        call.polls++;
        const { holder, request: queued, retryAfter } = await this.queue.poll(deviceId, request.id);
        if (queued?.out) {
          await this.queue.remove(deviceId, request.id).catch(() => undefined);
          return decodeOutcome(queued.out);
        }
        if (!queued) return new DeviceBusyError(deviceId, retryAfter);
        if (!holder) {
          try {
            const { lease, view } = await this.queue.acquire(deviceId, request.id, this.options.leaseSeconds);
            call.role = 'holder';
            return await this.hold(lease, view, request, true, deadline, plan, call);
          } catch (error) {
            if (!(error instanceof DeviceBusyError) || call.link) throw error;
          }
        }
        const now = Date.now();
        if (!queued.claim && now >= until && (await this.queue.withdraw(deviceId, request.id))) return new DeviceBusyError(deviceId, retryAfter);
        if (now >= deadline - ANSWER_MARGIN_MS) return new WhatsAppTimeoutError('the device\'s turn came but WhatsApp did not answer in time; the request may have been applied');
      }
    } finally {
      call.timings.wait = Math.round(performance.now() - waited);
    }
  }

  /**
   * Holds the device: serves the own request (with whatever is queued) on the device's connection, then
   * what was queued meanwhile, batch after batch, until the queue is empty or time runs out; commits and
   * releases only once no request was queued since its last look (QueueGrewError otherwise).
   */
  private async hold(lease: Lease, view: DeviceQueueView, own: PinRequest, ownQueued: boolean, deadline: number, plan: PinPlanner, call: CallRecord): Promise<RequestOutcome> {
    const stop = deadline - COMMIT_RESERVE_MS;
    const held = Date.now();
    let ownOutcome: RequestOutcome | undefined;
    let ownAnsweredAt = Number.POSITIVE_INFINITY;
    let failure: unknown;
    let released = false;
    let kept = false;
    let seq = view.seq;
    let link: DeviceLink | undefined;
    try {
      link = (await this.warmLink(lease, own, stop, call)) ?? (await this.open(lease, own, stop, call.phase));
      if (call.connection !== 'warm') {
        // (A failure here meets the first batch again, which answers it.)
        const ready = await link.ready(stop, call.phase).then(() => true, () => false);
        if (ready && Date.now() - held >= REREAD_AFTER_MS) ({ seq } = view = await call.phase('queue', () => this.queue.read(lease.deviceId)));
      }
      call.link = link;
      for (;;) {
        const { waiting: queued, answered } = await this.resolveInDoubt(link, lease, view, own.id, stop, call);
        if (answered.has(own.id)) {
          ownOutcome = decodeOutcome(answered.get(own.id)!);
          ownAnsweredAt = Date.now();
          call.answered(ownOutcome);
        }
        // A request that took a free lease arrived after everything already queued: it goes last (for a chat
        // requested more than once the last one decides), and in the first batch.
        const mine = ownOutcome === undefined && !ownQueued ? [own] : [];
        const batch = [...queued.filter((request) => !request.claim && request.until - Date.now() >= MIN_TURN_MS).slice(0, MAX_BATCH - mine.length), ...mine];
        const served = ownOutcome !== undefined && Date.now() - ownAnsweredAt > HANDOFF_MS;
        if (batch.length && !served && Date.now() < stop - MIN_TURN_MS) {
          const outcomes = await this.serveBatch(link, lease, batch, own.id, plan, stop, call);
          if (outcomes === 'withdrawn') {
            view = await this.queue.read(lease.deviceId);
            continue;
          }
          if (outcomes.has(own.id)) {
            ownOutcome = outcomes.get(own.id)!;
            ownAnsweredAt = Date.now();
            call.answered(ownOutcome);
            // Its response is on its way before the rest of the turn (the drain, the commit) takes the thread.
            await new Promise((resolve) => setImmediate(resolve));
          }
          await link.drain(stop, call.phase);
          const failed = [...outcomes.values()].find((outcome) => outcome instanceof Error && !(outcome.name === 'ChatNotFoundError'));
          if (failed) {
            // Every request still queued would meet a device-wide failure too: answer them now.
            const others = queued.filter((request) => !outcomes.has(request.id));
            if (isDeviceFailure(failed) && others.length) await this.queue.answer(lease, { outcomes: new Map(others.map((request) => [request.id, encodeOutcome(failed)])) }, this.leaseUntil());
            throw failed;
          }
          if (outcomes.size < queued.length + mine.length) {
            view = await this.queue.read(lease.deviceId);
            seq = view.seq;
            continue;
          }
        }
        try {
          // Handed off (or out of time): release whatever is queued; a waiting caller takes the next turn.
          const whenSeq = served || Date.now() >= stop - MIN_TURN_MS ? undefined : seq;
          kept = await call.phase('commit', () => link!.finish(lease, { keep: true, whenSeq, by: deadline - COMMIT_RESERVE_MS / 2 }));
          released = true;
          break;
        } catch (error) {
          if (!(error instanceof QueueGrewError)) throw error;
          view = await this.queue.read(lease.deviceId);
          seq = view.seq;
        }
      }
    } catch (error) {
      failure = error;
    }
    if (!released) {
      kept = await call.phase('commit', async () => (link ? link.finish(lease, { failure, keep: failure === undefined, by: deadline - COMMIT_RESERVE_MS / 2 }) : (await this.sessions.releaseLease(lease), false)));
    }
    if (kept) this.warm.set(lease.deviceId, link!);
    else this.warm.delete(lease.deviceId);
    return ownOutcome ?? (failure as Error) ?? new WhatsAppTimeoutError('the device\'s turn ended before the request was served');
  }

  /** The link this instance kept for the device, if it can serve this lease (nobody changed the session since): its connection, or a new one. */
  private async warmLink(lease: Lease, own: PinRequest, stop: number, call: CallRecord): Promise<DeviceLink | undefined> {
    const link = this.warm.get(lease.deviceId);
    this.warm.delete(lease.deviceId);
    if (!link) return undefined;
    const reuse = await link.reusable(lease, own, stop);
    if (reuse) {
      call.connection = reuse === 'open' ? 'warm' : 'reconnected';
      return link;
    }
    await link.end();
    return undefined;
  }

  /** Forgets the link kept for the device, and ends it. */
  private dropWarm(deviceId: string): void {
    const link = this.warm.get(deviceId);
    this.warm.delete(deviceId);
    void link?.end().catch(() => undefined);
  }

  /**
   * Serves one batch. Queued requests are claimed right before the patch leaves (a withdrawn one stops
   * it: 'withdrawn', decide again), and their outcomes are written for their callers; a batch that fails
   * as a whole answers each of its requests with that failure.
   */
  private async serveBatch(link: DeviceLink, lease: Lease, batch: PinRequest[], ownId: string, plan: PinPlanner, stop: number, call: CallRecord): Promise<Map<string, RequestOutcome> | 'withdrawn'> {
    const queued = batch.filter((request): request is QueuedRequest => 'until' in request);
    const by = Math.min(stop, ...queued.map((request) => request.until + CLAIMED_GRACE_MS));
    const batchId = randomUUID();
    let claimed = false;
    const beforeUpload: BeforeUpload | undefined = queued.length
      ? async ({ base, decisions, mutations }) => {
          const record = { id: batchId, by: lease.owner, base, mutations, decisions: Object.fromEntries([...decisions].map(([id, decision]) => [id, encodeOutcome(decision as PinDecision)])) };
          if (!(await call.phase('claim', () => this.queue.claim(lease, record, queued.map((request) => request.id), this.leaseUntil())))) throw new BatchWithdrawn();
          claimed = true;
        }
      : undefined;
    let outcomes: Map<string, RequestOutcome>;
    try {
      outcomes = await link.serve(batch, plan, by, call.phase, beforeUpload);
    } catch (error) {
      if (error instanceof BatchWithdrawn) return 'withdrawn';
      const failure = error instanceof Error ? error : new Error(`the batch failed: ${String(error)}`);
      outcomes = new Map(batch.map((request) => [request.id, failure]));
    }
    call.batches++;
    call.served += batch.length;
    metrics.addMetric('PinBatchSize', MetricUnit.Count, batch.length);
    if (queued.length) {
      const answers = new Map(queued.filter((request) => request.id !== ownId).map((request) => [request.id, encodeOutcome(outcomes.get(request.id)!)]));
      await call.phase('answer', () => this.queue.answer(lease, { outcomes: answers, forget: claimed ? [batchId] : [], remove: queued.some((request) => request.id === ownId) ? [ownId] : [] }, this.leaseUntil()));
    }
    return outcomes;
  }

  /**
   * Batches a holder that is gone was uploading: landed → its recorded decisions answer its requests;
   * did not land → its requests are queued again; cannot tell → they are answered 504 (maybe applied).
   * Also answers device-wide failures to everyone queued, and drops requests nobody will read. Returns the
   * requests still waiting.
   */
  private async resolveInDoubt(link: DeviceLink, lease: Lease, view: DeviceQueueView, ownId: string, stop: number, call: CallRecord): Promise<{ waiting: QueuedRequest[]; answered: Map<string, string> }> {
    const now = Date.now();
    const stale = view.requests.filter((request) => request.out && now - request.until > STALE_AFTER_MS).map((request) => request.id);
    const orphans = view.batches.filter((batch) => batch.by !== lease.owner);
    if (!orphans.length && !stale.length) return { waiting: view.requests.filter((request) => !request.out), answered: new Map() };
    const outcomes = new Map<string, string>();
    const unclaim: string[] = [];
    for (const batch of orphans) {
      const claimed = view.requests.filter((request) => request.claim === batch.id && !request.out);
      const landed = await call.phase('resolve', () => link.landed(batch, stop, call.phase));
      for (const request of claimed) {
        if (landed === true) outcomes.set(request.id, batch.decisions[request.id] ?? encodeOutcome('change'));
        else if (landed === false) unclaim.push(request.id);
        else outcomes.set(request.id, encodeOutcome(new WhatsAppTimeoutError('the holder of the device stopped while its patch was in flight; whether WhatsApp applied it is unknown')));
      }
    }
    const own = outcomes.has(ownId);
    const answers = new Map([...outcomes].filter(([id]) => id !== ownId));
    await this.queue.answer(lease, { outcomes: answers, unclaim, forget: orphans.map((batch) => batch.id), remove: own ? [...stale, ownId] : stale }, this.leaseUntil());
    const waiting = view.requests
      .filter((request) => !request.out && !outcomes.has(request.id) && !stale.includes(request.id))
      .map((request) => (unclaim.includes(request.id) ? { ...request, claim: undefined } : request));
    return { waiting, answered: outcomes };
  }

  private leaseUntil(): number {
    return Date.now() + this.options.leaseSeconds * 1000;
  }

  private report(command: PinChatCommand, call: CallRecord, outcome: RequestOutcome): void {
    const failed = outcome instanceof Error;
    metrics.addMetric(failed ? 'PinFailed' : 'PinAccepted', MetricUnit.Count, 1);
    metrics.addMetric('PinLatency', MetricUnit.Milliseconds, Math.round((call.answeredAt ?? performance.now()) - call.started));
    if (call.role === 'waiter') metrics.addMetric('PinQueued', MetricUnit.Count, 1);
    else metrics.addMetric(call.connection === 'warm' ? 'WarmConnectionReused' : 'ColdConnection', MetricUnit.Count, 1);
    const stats = call.link?.stats();
    if (stats?.conflicts) metrics.addMetric('ConflictRetries', MetricUnit.Count, stats.conflicts);
    if (stats?.offlineDelivered) metrics.addMetric('OfflineMessagesDrained', MetricUnit.Count, stats.offlineDelivered);
    logger.info('pin call', {
      deviceId: command.deviceId,
      chatJid: command.chatJid,
      pinned: command.pinned,
      outcome: failed ? outcome.name : outcome,
      role: call.role,
      warm: call.connection === 'warm',
      ...(call.connection === 'reconnected' && { reconnected: true }),
      timings: call.timings,
      ...(call.role === 'waiter' ? { polls: call.polls } : { batches: call.batches, served: call.served }),
      ...(stats && { appStateVersion: stats.appStateVersion, conflicts: stats.conflicts, offlineDelivered: stats.offlineDelivered }),
    });
  }
}

/** Device-wide failures: every request queued on the device would meet them too. */
export const isDeviceFailure = (error: unknown): boolean => error instanceof NotLoggedInError || error instanceof AppStateKeyMissingError;
