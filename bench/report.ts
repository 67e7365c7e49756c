/**
 * The bench's report beyond the main pins table: account sizes, the first pin after linking, the busy account's
 * backlog, the targets of issues 12 and 14 (met or missed), and the cost per million pins beside a t4g.nano running GOWA.
 */
import { readFileSync } from 'node:fs';
import { AWS_PRICES } from './aws-prices.js';
import { breakEvenPinsPerMonth, costPerMillionPins, ec2Monthly, fixedMonthly, freeTierPins, type Deployment, type PinCost } from './cost.js';
import { BACKLOG, type VariantResult, type Variant } from './pin-bench.js';

/** The per-variant summary the report reads (bench/index.ts `summarise`). */
export interface RunFigures {
  latencyMs: number;
  variant: Variant;
  pins: number;
  failures: number;
  roundTrips: number | null;
  dynamodbRequests: number | null;
  dynamodbBytesSent: number | null;
  dynamodbBytesReceived: number | null;
  readUnits: number | null;
  writeUnits: number | null;
  dynamodbInFlightMs: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
  newConnections: number;
  handlerMsMedian: number | null;
  phasesMsMedian: Record<string, number | null>;
  means: { handlerMs: number | null; afterResponseMs?: number | null; initMs: number | null; readUnits: number | null; writeUnits: number | null; secretsCalls: number | null; logBytes: number | null };
}

type Row = Record<string, unknown>;
type Table = (rows: Row[], columns: string[]) => string;

const repo = (path: string) => new URL(`../${path}`, import.meta.url);
const kb = (bytes: number | null | undefined) => (bytes == null ? '-' : `${(bytes / 1024).toFixed(1)} KB`);
const usd = (value: number) => (value >= 100 ? `$${value.toFixed(0)}` : value >= 1 ? `$${value.toFixed(2)}` : `$${value.toFixed(3)}`);
const ratio = (a: number | null | undefined, b: number | null | undefined) => (a != null && b ? Number((a / b).toFixed(2)) : null);
/** A ratio target's figure, unrounded: the target holds or not on it (553 / 1002 is 0.552, over 0.55). */
const exactRatio = (a: number | null | undefined, b: number | null | undefined) => (a != null && b ? a / b : null);
const ratioText = (r: number | null) => (r == null ? '-' : r.toFixed(3));
const pinsText = (n: number) => (n === 0 ? 'never' : !Number.isFinite(n) ? 'always' : n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(0)} k`);

/** The deployment as configured: memory from cdk.json, alarms counted in infra/alarms.ts; the rest as infra/ builds it. */
export function readDeployment(): Deployment & { notes: string[] } {
  const cdk = JSON.parse(readFileSync(repo('cdk.json'), 'utf8')) as { context?: { memorySize?: number } };
  let alarms = 5;
  try {
    alarms = readFileSync(repo('infra/alarms.ts'), 'utf8').match(/\balarm\(\s*'/g)?.length ?? alarms;
  } catch {
    // keep the default
  }
  return {
    memoryMb: Number(cdk.context?.memorySize ?? 1769),
    wafRules: 1,
    alarms,
    customMetrics: 12,
    warmInstances: 1,
    secretCacheMinutes: 5,
    platformLogBytes: 800,
    tracesPerPin: 1,
    ec2EbsGb: 8,
    notes: [
      'memory: cdk.json context.memorySize; arm64 (infra/pin-function.ts); WAF: 1 web ACL with 1 rule (body-size limit, infra/stateless-stack.ts); alarms: infra/alarms.ts',
      'custom metrics: 11 pin/request metrics × {service, stage} + Powertools ColdStart = 12, each published at least once an hour (an upper bound at low traffic)',
      'log bytes: the function\'s measured output per pin + 800 B (Lambda START/END/REPORT ≈ 350 B, API Gateway access log line ≈ 450 B)',
      'X-Ray: active tracing, 1 trace recorded per pin (the default sampling rule records the first request each second: every pin below 1 pin/s); the 100,000 free traces not applied',
      'Secrets Manager: measured calls per pin (a cold start reads the secret once; a warm instance caches it 5 minutes) + 1 warm instance re-reading it every 5 minutes around the clock (fixed part)',
      'KMS: the sessions table\'s customer-managed key, $1/month; its requests are not counted (DynamoDB caches the table key, a few calls an hour)',
      'DynamoDB: request units as DynamoDB Local accounts them (ReturnConsumedCapacity: 1 WRU per KB of the larger of the item before and after, 1 RRU per 4 KB strongly consistent), transactions from their request (DynamoDB Local undercounts them): 2 WRU per KB of each item; storage (< 1 MB per device) not counted',
      'Lambda: billed duration = handler ms + what it finished after its response (Lambda bills until its after-response extension is done) (+ INIT ms for a cold start: billed for on-demand ZIP functions since 2025-08-01), rounded up to 1 ms, means over the measured pins, timed on this machine (not on Lambda\'s CPU); the free tier is not applied',
      'API Gateway: REST API requests; data transfer of ~0.3 KB answers not counted. EC2: t4g.nano on demand (730 h), 8 GB gp3, its public IPv4 address; WhatsApp traffic stays within the free 100 GB of data out',
    ],
  };
}

const at = (runs: RunFigures[], variant: Variant, latencyMs: number) => runs.find((run) => run.variant === variant && run.latencyMs === latencyMs);

interface Target {
  target: string;
  latencyMs: number | string;
  measured: string;
  met: boolean | null;
}

export function report(runs: RunFigures[], results: VariantResult[], table: Table, print: (line: string) => void) {
  const latencies = [...new Set(runs.map((run) => run.latencyMs))].sort((a, b) => a - b);
  const top = latencies.includes(50) ? 50 : latencies.at(-1)!;
  const targets: Target[] = [];
  const target = (name: string, latencyMs: number | string, measured: string, met: boolean | null) => targets.push({ target: name, latencyMs, measured, met });

  // Account sizes (issue 12).
  const sizes: Variant[] = ['size-0', 'size-2k', 'size-10k'];
  const sizeRows = latencies.flatMap((latencyMs) =>
    sizes.flatMap((variant) => {
      const run = at(runs, variant, latencyMs);
      const result = results.find((r) => r.variant === variant && r.latencyMs === latencyMs);
      if (!run || !result) return [];
      const base = at(runs, 'size-0', latencyMs);
      return [{
        latencyMs, variant, entries: result.account.entries, ok: `${run.pins - run.failures}/${run.pins}`, p50Ms: run.p50Ms, p95Ms: run.p95Ms, 'vs size-0': ratio(run.p50Ms, base?.p50Ms),
        roundTrips: run.roundTrips, dynamodbRequests: run.dynamodbRequests, written: kb(run.dynamodbBytesSent), read: kb(run.dynamodbBytesReceived), WRU: run.writeUnits, RRU: run.readUnits,
      }];
    }),
  );
  if (sizeRows.length) {
    print('\naccount sizes (regular_low: snapshot on the media host under an older key + later patches under a rotated one; 3 pinned chats; cold pins, medians per pin)');
    print(table(sizeRows, ['latencyMs', 'variant', 'entries', 'ok', 'p50Ms', 'p95Ms', 'vs size-0', 'roundTrips', 'dynamodbRequests', 'written', 'read', 'WRU', 'RRU']));
    for (const latencyMs of latencies) {
      const [small, large] = [at(runs, 'size-0', latencyMs), at(runs, 'size-10k', latencyMs)];
      if (!small || !large) continue;
      const r = exactRatio(large.p50Ms, small.p50Ms);
      target('size-10k cold p50 ≤ 1.3× size-0', latencyMs, `${large.p50Ms} / ${small.p50Ms} ms = ${ratioText(r)}×`, r == null ? null : r <= 1.3);
      target('size-10k DynamoDB bytes written per pin ≤ 8 KB', latencyMs, kb(large.dynamodbBytesSent), large.dynamodbBytesSent == null ? null : large.dynamodbBytesSent <= 8 * 1024);
      target('size-10k DynamoDB bytes read per pin ≤ 32 KB', latencyMs, kb(large.dynamodbBytesReceived), large.dynamodbBytesReceived == null ? null : large.dynamodbBytesReceived <= 32 * 1024);
    }
  }

  // The first pin after linking on a 10,000-entry account (issue 12).
  const firstRows = latencies.flatMap((latencyMs) => {
    const result = results.find((r) => r.variant === 'first-pin-10k' && r.latencyMs === latencyMs);
    const run = at(runs, 'first-pin-10k', latencyMs);
    if (!result || !run) return [];
    const ok = result.samples.filter((sample) => sample.ok);
    const max = ok.length ? Math.round(Math.max(...ok.map((sample) => sample.wallMs))) : null;
    if (latencyMs === top) target('first pin after linking, 10,000 entries, ≤ 5 s (slowest of the samples)', latencyMs, `p50 ${run.p50Ms} ms, max ${max} ms`, max == null || run.failures ? false : max <= 5_000);
    return [{
      latencyMs, ok: `${run.pins - run.failures}/${run.pins}`, p50Ms: run.p50Ms, maxMs: max, handlerMs: run.handlerMsMedian, fullSyncMs: run.phasesMsMedian.fullSync ?? '-', commitMs: run.phasesMsMedian.commit ?? '-',
      dynamodbRequests: run.dynamodbRequests, ddbInFlightMs: run.dynamodbInFlightMs, written: kb(run.dynamodbBytesSent), WRU: run.writeUnits, wallMs: ok.map((sample) => Math.round(sample.wallMs)).join(' '),
    }];
  });
  if (firstRows.length) {
    print('\nfirst pin after linking, 10,000-entry account (the full sync inside the pin: snapshot download, decode, bulk write of the entries; a new device per sample)');
    print(table(firstRows, ['latencyMs', 'ok', 'p50Ms', 'maxMs', 'handlerMs', 'fullSyncMs', 'commitMs', 'dynamodbRequests', 'ddbInFlightMs', 'written', 'WRU', 'wallMs']));
    print('  ddbInFlightMs: wall time with a DynamoDB Local request in flight (the bulk write is DynamoDB Local\'s speed: a machine-local Java process, not DynamoDB\'s)');
  }

  // Busy (issue 14): the backlog after each call.
  const busyRows = latencies.flatMap((latencyMs) => {
    const result = results.find((r) => r.variant === 'busy' && r.latencyMs === latencyMs);
    if (!result) return [];
    let previous = { delivered: 0, receipted: 0, retryReceipts: 0, total: 0 };
    return result.samples.map((sample, call) => {
      const queue = sample.backlog;
      const row = {
        latencyMs, call: call + 1, ok: sample.ok, wallMs: Math.round(sample.wallMs), dynamodbRequests: sample.dynamodb.requests,
        queuedAfter: queue?.queued ?? '-', 'queued (total)': queue ? queue.total - previous.total : '-', delivered: queue ? queue.delivered - previous.delivered : '-',
        receipted: queue ? queue.receipted - previous.receipted : '-', retryReceipts: queue ? queue.retryReceipts - previous.retryReceipts : '-',
        drainMs: sample.phases?.drain ?? '-',
      };
      if (queue) previous = queue;
      return row;
    });
  });
  if (busyRows.length) {
    print(`\nbusy: before each call the phone rotates its app-state key (a share queued for the device) and ${BACKLOG.senders} senders queue ${BACKLOG.messages} messages; the device's offline queue after each call (counts per call)`);
    print(table(busyRows, ['latencyMs', 'call', 'ok', 'wallMs', 'dynamodbRequests', 'queued (total)', 'delivered', 'receipted', 'retryReceipts', 'queuedAfter', 'drainMs']));
    for (const latencyMs of latencies) {
      const [busy, quiet] = [at(runs, 'busy', latencyMs), at(runs, 'ours-cold', latencyMs)];
      if (!busy) continue;
      const r = exactRatio(busy.p50Ms, quiet?.p50Ms);
      target('busy cold p50 ≤ 1.5× ours-cold (quiet)', latencyMs, `${busy.p50Ms} / ${quiet?.p50Ms} ms = ${ratioText(r)}×`, r == null ? null : r <= 1.5);
      target('busy DynamoDB requests per pin ≤ 6 (median)', latencyMs, String(busy.dynamodbRequests), busy.dynamodbRequests == null ? null : busy.dynamodbRequests <= 6);
      const rows = busyRows.filter((row) => row.latencyMs === latencyMs);
      const left = rows.map((row) => row.queuedAfter).filter((value): value is number => typeof value === 'number');
      const retries = rows.reduce((sum, row) => sum + (typeof row.retryReceipts === 'number' ? row.retryReceipts : 0), 0);
      target(
        'busy backlog empty after each call, or bounded',
        latencyMs,
        `queued after each call: ${left.join(' ')}; retry receipts: ${retries}`,
        // Empty after every call, or not growing: the later half's largest no larger than the earlier half's.
        left.length ? left.every((value) => value === 0) || Math.max(...left.slice(Math.floor(left.length / 2))) <= Math.max(...left.slice(0, Math.ceil(left.length / 2))) : null,
      );
    }
  }

  // Round trips and the ratios against the naive script (issue 14).
  for (const latencyMs of latencies) {
    const [cold, warm, naive, idle, naiveWarm] = (['ours-cold', 'ours-warm', 'naive', 'idle-warm', 'naive-warm'] as const).map((variant) => at(runs, variant, latencyMs));
    if (latencyMs === top) {
      if (cold) target('ours-cold round trips ≤ 4', latencyMs, String(cold.roundTrips), cold.roundTrips == null ? null : cold.roundTrips <= 4);
      if (warm) target('ours-warm round trips = 1 (no reconnection)', latencyMs, `${warm.roundTrips} (new connections: ${warm.newConnections})`, warm.roundTrips === 1 && warm.newConnections === 0);
      if (idle) target('idle-warm round trips ≤ 4', latencyMs, String(idle.roundTrips), idle.roundTrips == null ? null : idle.roundTrips <= 4);
    }
    const coldRatio = exactRatio(cold?.p50Ms, naive?.p50Ms);
    if (cold && naive) target('ours-cold p50 ≤ 0.7× naive', latencyMs, `${cold.p50Ms} / ${naive.p50Ms} ms = ${ratioText(coldRatio)}×`, latencyMs === top ? coldRatio != null && coldRatio <= 0.7 : null);
    const idleRatio = exactRatio(idle?.p50Ms, naiveWarm?.p50Ms);
    if (idle && naiveWarm) target('idle-warm p50 ≤ 0.55× naive-warm', latencyMs, `${idle.p50Ms} / ${naiveWarm.p50Ms} ms = ${ratioText(idleRatio)}×`, latencyMs === top ? idleRatio != null && idleRatio <= 0.55 : null);
  }
  if (targets.length) {
    print(`\ntargets (issues 12 and 14; the ratio targets are set at ${top} ms, other latencies for information)`);
    print(table(targets.map((t) => ({ ...t, met: t.met === null ? '(info)' : t.met ? 'met' : 'MISSED' })), ['target', 'latencyMs', 'measured', 'met']));
  }

  // Cost per million pins (issue 14 item 5).
  const deployment = readDeployment();
  const fixed = fixedMonthly(deployment);
  const ec2 = ec2Monthly(deployment);
  const costed: Variant[] = ['ours-cold', 'ours-warm', 'idle-warm', 'busy', 'size-0', 'size-2k', 'size-10k', 'first-pin-10k'];
  const costs = latencies.flatMap((latencyMs) =>
    costed.flatMap((variant) => {
      const run = at(runs, variant, latencyMs);
      if (!run || run.means.handlerMs == null) return [];
      const figures = {
        // Lambda bills the invocation until its after-response extension is done: the answer and the turn's rest.
        handlerMs: run.means.handlerMs + (run.means.afterResponseMs ?? 0),
        initMs: run.means.initMs ?? 0,
        readUnits: run.means.readUnits ?? 0,
        writeUnits: run.means.writeUnits ?? 0,
        secretsCalls: run.means.secretsCalls ?? 0,
        logBytes: run.means.logBytes ?? 0,
      };
      const cost: PinCost = costPerMillionPins(figures, deployment);
      return [{
        latencyMs, variant, figures, cost,
        breakEvenCore: breakEvenPinsPerMonth(cost.core, fixed.core, ec2.total),
        breakEvenAll: breakEvenPinsPerMonth(cost.total, fixed.total, ec2.total),
        breakEvenWithoutWaf: breakEvenPinsPerMonth(cost.core - cost.wafRequests, fixed.core - fixed.wafWebAcl - fixed.wafRules, ec2.total),
        freeTierPins: freeTierPins(cost.gbSeconds),
      }];
    }),
  );
  if (costs.length) {
    print(`\ncost per million pins, USD (${AWS_PRICES.region}, prices of ${AWS_PRICES.date}; bench/aws-prices.ts), at ${top} ms, from the means of the measured pins`);
    print(
      table(
        costs.filter((row) => row.latencyMs === top).map(({ variant, figures, cost, breakEvenCore, breakEvenAll, breakEvenWithoutWaf }) => ({
          variant,
          'billed ms': `${Math.ceil(figures.handlerMs) + (figures.initMs > 0 ? Math.ceil(figures.initMs) : 0)}${figures.initMs > 0 ? ` (init ${Math.ceil(figures.initMs)})` : ''}`,
          'GB-s': cost.gbSeconds.toFixed(3),
          Lambda: usd(cost.lambdaCompute + cost.lambdaRequests),
          'DDB R/W units': `${figures.readUnits.toFixed(1)}/${figures.writeUnits.toFixed(1)}`,
          DynamoDB: usd(cost.dynamodbReads + cost.dynamodbWrites),
          'API GW': usd(cost.apiGateway),
          WAF: usd(cost.wafRequests),
          Secrets: usd(cost.secretsManager),
          core: usd(cost.core),
          'X-Ray': usd(cost.xray),
          Logs: usd(cost.logs),
          total: usd(cost.total),
          'cheaper than EC2 below (core/all/no WAF)':
            variant === 'first-pin-10k' ? '(once per linked device)' : `${pinsText(breakEvenCore)} / ${pinsText(breakEvenAll)} / ${pinsText(breakEvenWithoutWaf)}`,
        })),
        ['variant', 'billed ms', 'GB-s', 'Lambda', 'DDB R/W units', 'DynamoDB', 'API GW', 'WAF', 'Secrets', 'core', 'X-Ray', 'Logs', 'total', 'cheaper than EC2 below (core/all/no WAF)'],
      ),
    );
    print(
      `fixed per month (no pin): WAF web ACL ${usd(fixed.wafWebAcl)} + ${deployment.wafRules} rule ${usd(fixed.wafRules)} + secret ${usd(fixed.secret)} + its 5-minute refreshes ${usd(fixed.secretRefreshes)} + KMS key ${usd(fixed.kmsKey)} = core ${usd(fixed.core)}; ` +
        `+ ${deployment.alarms} alarms ${usd(fixed.alarms)} + ${deployment.customMetrics} custom metrics ${usd(fixed.customMetrics)} = all ${usd(fixed.total)}`,
    );
    print(`t4g.nano running GOWA around the clock: instance ${usd(ec2.instance)} + ${deployment.ec2EbsGb} GB gp3 ${usd(ec2.ebs)} + public IPv4 ${usd(ec2.publicIpv4)} = ${usd(ec2.total)} per month`);
    const cold = costs.find((row) => row.latencyMs === top && row.variant === 'ours-cold');
    if (cold) print(`Lambda free tier (not applied above): 400,000 GB-s and 1M requests a month cover ${pinsText(cold.freeTierPins)} ours-cold pins`);
    print('"cheaper than EC2 below": pins per month under which serverless costs less than the instance (core = the services a pin needs + the core fixed part; all = + X-Ray, logs, alarms, metrics; no WAF = core without WAF); never = the fixed part alone costs as much');
    print('assumptions:');
    for (const note of deployment.notes) print(`  - ${note}`);
  }

  return { targets, cost: { prices: AWS_PRICES, deployment, fixedMonthly: fixed, ec2Monthly: ec2, perMillionPins: costs } };
}
