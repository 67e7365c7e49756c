/**
 * `npm run bench`: runs every benchmark in turn and writes bench/results.json.
 * 1. session store: requests and bytes of a pin-shaped session load/commit (bench/session-store-bench.ts);
 * 2. bundles: the Lambda bundle of functions/pin-chat.ts and the naive script's, sizes and cold imports;
 * 3. pins: ours cold and warm against the naive script, idle-warm, busy, account sizes and the first pin after linking,
 *    at 0, 25 and 50 ms latency (bench/pin-bench.ts); then the targets and the cost per million pins (bench/report.ts).
 * Knobs (env): BENCH_PINS (20), BENCH_HEAVY_PINS (10: busy, sizes), BENCH_FIRST_PINS (3), BENCH_IMPORTS (10),
 * BENCH_LATENCIES ("0,25,50"), BENCH_VARIANTS (all; e.g. "ours-cold,size-0,size-10k"), BENCH_LATENCY_MODEL ("proxy": a
 * pipelined delay per frame in a proxy; "sim": the simulator's latency fault, which delays frame after frame, so bursts pay per frame).
 */
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { NODE_OPTIONS } from '../infra/bundling.js';
import { startDynamoDbLocal } from '../lib/local/dynamodb-local.js';
import { bundle, coldImport, type ColdImport } from './bundles.js';
import { killBenchChildren, pinBench, VARIANTS, type PinSample, type Variant } from './pin-bench.js';
import { report } from './report.js';
import { sessionStoreBench } from './session-store-bench.js';

const PINS = Number(process.env.BENCH_PINS ?? 20);
const IMPORTS = Number(process.env.BENCH_IMPORTS ?? 10);
const HEAVY_PINS = Number(process.env.BENCH_HEAVY_PINS ?? Math.min(PINS, 10));
const FIRST_PINS = Number(process.env.BENCH_FIRST_PINS ?? 3);
const LATENCIES = (process.env.BENCH_LATENCIES ?? '0,25,50').split(',').map(Number);
const SELECTED = process.env.BENCH_VARIANTS?.split(',').map((name) => name.trim()).filter((name): name is Variant => (VARIANTS as readonly string[]).includes(name));
const LATENCY_MODEL = process.env.BENCH_LATENCY_MODEL === 'sim' ? 'sim' : 'proxy';
const RESULTS = fileURLToPath(new URL('./results.json', import.meta.url));

const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
/** Nearest-rank percentile; NaN for no values. */
const percentile = (values: number[], p: number) => (values.length ? sorted(values)[Math.max(0, Math.ceil(p * values.length) - 1)]! : Number.NaN);
const median = (values: number[]) => percentile(values, 0.5);
const mean = (values: number[]) => (values.length ? values.reduce((sum, value) => sum + value, 0) / values.length : Number.NaN);
const round = (value: number, digits = 0) => (Number.isFinite(value) ? Number(value.toFixed(digits)) : null);
const mostCommon = (values: string[]) => [...values.reduce((m, v) => m.set(v, (m.get(v) ?? 0) + 1), new Map<string, number>())].sort((a, b) => b[1] - a[1])[0]?.[0];

/** Runs of one operation as one step: `BatchWriteItem ×400`. */
const collapse = (log: string[]) =>
  log.reduce<Array<[string, number]>>((steps, step) => (steps.at(-1)?.[0] === step ? (steps.at(-1)![1]++, steps) : [...steps, [step, 1]]), []).map(([step, n]) => (n > 1 ? `${step} ×${n}` : step));

function summarise(latencyMs: number, variant: Variant, samples: PinSample[]) {
  const ok = samples.filter((sample) => sample.ok);
  const of = (pick: (sample: PinSample) => number | undefined) => ok.map(pick).filter((value): value is number => value !== undefined && Number.isFinite(value));
  const phaseNames = [...new Set(ok.flatMap((sample) => Object.keys(sample.phases ?? {})))];
  const byOperation = ok.map((sample) => JSON.stringify(sample.dynamodb.byOperation));
  return {
    latencyMs,
    variant,
    roundTrips: round(median(of((sample) => sample.roundTrips?.count))),
    stanzas: round(median(of((sample) => sample.stanzasIn + sample.stanzasOut))),
    dynamodbRequests: round(median(of((sample) => sample.dynamodb.requests))),
    p50Ms: round(median(of((sample) => sample.wallMs))),
    p95Ms: round(percentile(of((sample) => sample.wallMs), 0.95)),
    peakRssMb: round(Math.max(0, ...of((sample) => sample.maxRssKb)) / 1024, 1),
    // extra fields
    pins: samples.length,
    failures: samples.length - ok.length,
    /** Measured pins that sent a patch (each pin toggles its chat: all of them should). */
    patched: ok.filter((sample) => sample.patched).length,
    errors: [...new Set(samples.filter((sample) => !sample.ok).map((sample) => String(sample.error).slice(0, 300)))].slice(0, 3),
    roundTripPath: mostCommon(ok.map((sample) => sample.roundTrips?.path.join(' > ') ?? 'unmatched')),
    newConnections: ok.reduce((sum, sample) => sum + sample.newConnections, 0),
    stanzasIn: round(median(of((sample) => sample.stanzasIn))),
    stanzasOut: round(median(of((sample) => sample.stanzasOut))),
    dynamodbBytesSent: round(median(of((sample) => sample.dynamodb.requestBytes))),
    dynamodbBytesReceived: round(median(of((sample) => sample.dynamodb.responseBytes))),
    readUnits: round(median(of((sample) => sample.dynamodb.readUnits)), 1),
    writeUnits: round(median(of((sample) => sample.dynamodb.writeUnits)), 1),
    dynamodbInFlightMs: round(median(of((sample) => sample.dynamodb.inFlightMs))),
    /** Means over the measured pins: what the cost per pin is computed from. */
    means: {
      handlerMs: round(mean(of((sample) => sample.handlerMs)), 1),
      afterResponseMs: round(mean(of((sample) => sample.afterResponseMs)), 1),
      initMs: round(mean(of((sample) => sample.initMs)), 1),
      readUnits: round(mean(of((sample) => sample.dynamodb.readUnits)), 2),
      writeUnits: round(mean(of((sample) => sample.dynamodb.writeUnits)), 2),
      secretsCalls: round(mean(of((sample) => sample.secretsCalls)), 2),
      logBytes: round(mean(of((sample) => sample.logBytes))),
      dynamodbRequests: round(mean(of((sample) => sample.dynamodb.requests)), 1),
    },
    estimatedUnitRequests: ok.reduce((sum, sample) => sum + sample.dynamodb.estimatedUnits, 0),
    dynamodbSequence: mostCommon(ok.map((sample) => collapse(sample.dynamodb.log).join(' > '))),
    dynamodbOperations: byOperation.length ? (JSON.parse(mostCommon(byOperation)!) as Record<string, number>) : {},
    minMs: round(Math.min(...of((sample) => sample.wallMs))),
    initMsMedian: round(median(of((sample) => sample.initMs))),
    handlerMsMedian: round(median(of((sample) => sample.handlerMs))),
    /** Answer → invocation over (the turn's rest after the response), median. */
    afterResponseMsMedian: round(median(of((sample) => sample.afterResponseMs))),
    cpuMsMedian: round(median(of((sample) => sample.cpuMs))),
    phasesMsMedian: Object.fromEntries(phaseNames.map((name) => [name, round(median(of((sample) => sample.phases?.[name])))])),
    wallMs: of((sample) => sample.wallMs).map((value) => round(value)),
  };
}
type Run = ReturnType<typeof summarise>;

const ratio = (ours: number | null | undefined, naive: number | null | undefined) => (ours != null && naive ? round(ours / naive, 2) : null);
function ratios(runs: Run[]) {
  return [...new Set(runs.map((run) => run.latencyMs))].flatMap((latencyMs) => {
    const find = (variant: Variant) => runs.find((run) => run.latencyMs === latencyMs && run.variant === variant);
    const pairs: Array<[Variant, Variant]> = [['ours-cold', 'naive'], ['ours-warm', 'naive'], ['ours-warm', 'naive-warm'], ['idle-warm', 'naive-warm'], ['busy', 'ours-cold'], ['size-10k', 'size-0']];
    return pairs.filter(([ours, naive]) => find(ours) && find(naive)).map(([ours, naive]) => {
      const [a, b] = [find(ours), find(naive)];
      return {
        latencyMs,
        ours,
        naive,
        roundTrips: ratio(a?.roundTrips, b?.roundTrips),
        stanzas: ratio(a?.stanzas, b?.stanzas),
        p50Ms: ratio(a?.p50Ms, b?.p50Ms),
        p95Ms: ratio(a?.p95Ms, b?.p95Ms),
        peakRssMb: ratio(a?.peakRssMb, b?.peakRssMb),
      };
    });
  });
}

function table(rows: Array<Record<string, unknown>>, columns: string[]): string {
  const cells = [columns, ...rows.map((row) => columns.map((column) => String(row[column] ?? '-')))];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => line[i]!.length)));
  return cells.map((line) => line.map((cell, i) => cell.padStart(widths[i]!)).join('  ')).join('\n');
}

async function main() {
  Object.assign(process.env, {
    AWS_REGION: process.env.AWS_REGION ?? 'eu-west-1',
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'local',
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'local',
  });
  const benchStarted = performance.now();
  const loadBefore = loadavg();
  const startedAt = new Date().toISOString();
  const dynamodb = await startDynamoDbLocal();
  const stop = () => {
    killBenchChildren();
    void dynamodb.stop();
  };
  process.once('SIGINT', () => (stop(), process.exit(130)));
  process.once('SIGTERM', () => (stop(), process.exit(143)));
  try {
    process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamodb.endpoint;
    const sessionStore: string[] = [];
    await sessionStoreBench((line) => (console.log(line), sessionStore.push(line)));

    console.log('\nbundles: esbuild with infra/bundling.ts esbuildOptions');
    const ours = await bundle('pin-chat', 'functions/pin-chat.ts');
    const runner = await bundle('pin-runner', 'bench/pin-runner.ts');
    const naive = await bundle('naive-pin', 'bench/naive-pin.ts', { plain: true });
    // The function's own environment (its NODE_OPTIONS among it); the naive script runs as a user would run it, plain.
    const configEnv = { SESSION_TABLE: 'bench', API_CREDENTIALS_SECRET_ID: 'bench', NODE_OPTIONS };
    const imports: { ours: ColdImport[]; naive: ColdImport[] } = { ours: [], naive: [] };
    for (let i = 0; i < IMPORTS; i++) {
      // Interleaved, so that the machine's load hits both alike.
      imports.ours.push(await coldImport(ours.file, configEnv));
      imports.naive.push(await coldImport(naive.file));
    }
    const importMedian = (which: 'ours' | 'naive', field: keyof ColdImport) => median(imports[which].map((run) => run[field]));
    const bundleFigures = {
      bytes: ours.bytes,
      zipBytes: ours.zipBytes,
      importMsMedian: round(importMedian('ours', 'ms')),
      naiveImportMsMedian: round(importMedian('naive', 'ms')),
      // extra fields
      importRatio: ratio(importMedian('ours', 'ms'), importMedian('naive', 'ms')),
      importCpuMsMedian: round(importMedian('ours', 'cpuMs')),
      naiveImportCpuMsMedian: round(importMedian('naive', 'cpuMs')),
      importCpuRatio: ratio(importMedian('ours', 'cpuMs'), importMedian('naive', 'cpuMs')),
      zipBytesWithoutMap: ours.zipBytesWithoutMap,
      mapBytes: ours.mapBytes,
      imports: IMPORTS,
      importMs: imports.ours.map((run) => round(run.ms)),
      naiveImportMs: imports.naive.map((run) => round(run.ms)),
      rssAfterImportMbMedian: round(importMedian('ours', 'rssMb'), 1),
      naiveRssAfterImportMbMedian: round(importMedian('naive', 'rssMb'), 1),
      largestInputs: ours.largestInputs,
      afterBundling: ours.report,
      naive: { bytes: naive.bytes, zipBytes: naive.zipBytes, zipBytesWithoutMap: naive.zipBytesWithoutMap, largestInputs: naive.largestInputs },
      pinRunner: { bytes: runner.bytes, note: 'functions/pin-chat.ts + the bench IPC/root-key wrapper, same options: what ours-cold runs' },
    };
    const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MB`;
    console.log(
      table(
        [
          { bundle: 'ours (functions/pin-chat.ts)', raw: mb(ours.bytes), zip: mb(ours.zipBytes), 'zip w/o map': mb(ours.zipBytesWithoutMap), 'import p50': `${bundleFigures.importMsMedian} ms` },
          { bundle: 'naive (bench/naive-pin.ts)', raw: mb(naive.bytes), zip: mb(naive.zipBytes), 'zip w/o map': mb(naive.zipBytesWithoutMap), 'import p50': `${bundleFigures.naiveImportMsMedian} ms` },
        ],
        ['bundle', 'raw', 'zip', 'zip w/o map', 'import p50'],
      ),
    );
    console.log(`import ours/naive: wall ${bundleFigures.importRatio}, CPU ${bundleFigures.importCpuMsMedian}/${bundleFigures.naiveImportCpuMsMedian} ms = ${bundleFigures.importCpuRatio} (medians of ${IMPORTS} fresh Node 22 processes each)\n`);

    const samples = await pinBench({
      dynamodbEndpoint: dynamodb.endpoint, runnerFile: runner.file, naiveFile: naive.file, latencies: LATENCIES, pins: PINS, heavyPins: HEAVY_PINS, firstPins: FIRST_PINS,
      ...(SELECTED?.length && { variants: SELECTED }), latencyModel: LATENCY_MODEL, print: console.log,
    });
    const runs = samples.map(({ latencyMs, variant, samples: pins }) => summarise(latencyMs, variant, pins));
    // Round trips are a property of the code path; without latency their timing cannot tell concurrency from
    // sequence, so a 0 ms run reports the count measured with latency and keeps its own as an upper bound.
    const withLatency = runs.filter((run) => run.latencyMs > 0);
    for (const run of runs.filter((r) => r.latencyMs === 0)) {
      const reference = withLatency.find((other) => other.variant === run.variant);
      if (!reference) continue;
      Object.assign(run, { roundTripsUpperBoundAt0Ms: run.roundTrips, roundTripPathAt0Ms: run.roundTripPath, roundTrips: reference.roundTrips, roundTripPath: reference.roundTripPath, roundTripsMeasuredAtMs: reference.latencyMs });
    }
    console.log(`\npins (medians; p50/p95 of wall time; ${PINS} per light variant and latency, ${HEAVY_PINS} busy and size-*, ${FIRST_PINS} first-pin-10k; ddb bytes sent/received per pin)`);
    console.log(
      table(
        runs.map((run) => ({ ...run, ok: `${run.pins - run.failures}/${run.pins}`, 'ddb bytes': `${run.dynamodbBytesSent ?? 0}/${run.dynamodbBytesReceived ?? 0}` })),
        ['latencyMs', 'variant', 'ok', 'patched', 'roundTrips', 'stanzas', 'dynamodbRequests', 'ddb bytes', 'readUnits', 'writeUnits', 'p50Ms', 'p95Ms', 'initMsMedian', 'handlerMsMedian', 'afterResponseMsMedian', 'cpuMsMedian', 'peakRssMb', 'newConnections'],
      ),
    );
    for (const run of runs) {
      const measuredAt = 'roundTripsMeasuredAtMs' in run ? ` (path measured at ${String(run.roundTripsMeasuredAtMs)} ms)` : '';
      console.log(`  ${run.latencyMs} ms ${run.variant}: ${run.roundTripPath}${measuredAt}`);
      if (Object.keys(run.phasesMsMedian).length) console.log(`    phases (ms, median): ${JSON.stringify(run.phasesMsMedian)}`);
      if (run.dynamodbRequests) console.log(`    dynamodb: ${run.dynamodbSequence}`);
      for (const error of run.errors) console.log(`    error: ${error}`);
    }
    const ratioRows = ratios(runs);
    console.log('\nratios ours/naive');
    console.log(table(ratioRows, ['latencyMs', 'ours', 'naive', 'roundTrips', 'stanzas', 'p50Ms', 'p95Ms', 'peakRssMb']));
    const extra = report(runs, samples, table, console.log);

    const results = {
      bundle: bundleFigures,
      runs,
      ratios: ratioRows,
      targets: extra.targets,
      cost: extra.cost,
      accounts: samples.map(({ latencyMs, variant, account, settle }) => ({ latencyMs, variant, ...account, ...(settle && { settle }) })),
      busyBacklog: samples.filter((result) => result.variant === 'busy').map(({ latencyMs, samples: pins }) => ({ latencyMs, afterEachCall: pins.map((pin) => pin.backlog) })),
      sessionStore,
      method: {
        startedAt,
        node: '22 (node_modules/.bin/node) for every child',
        cpus: cpus().length,
        durationS: round((performance.now() - benchStarted) / 1000),
        loadAverage: { before: loadBefore, after: loadavg() },
        latency:
          LATENCY_MODEL === 'proxy'
            ? 'one-way delay per frame in each direction, added by a TCP proxy in front of the simulator (bench/wire-proxy.ts), pipelined; the simulator itself runs without latency'
            : "the simulator's latency fault: every frame delayed in turn, both ways (a burst of n frames pays n delays)",
        roundTrips: 'see bench/round-trips.ts: longest chain of requests each sent after the previous answer reached the client (Noise hello, Noise finish, IQs); exact with latency, an upper bound at 0 ms',
        wallMs: 'ours-cold and naive: process spawn → answer; warm variants: invocation → answer',
        dynamodb: 'counted by an HTTP proxy in front of DynamoDB Local, per pin; request units from the ConsumedCapacity DynamoDB Local answers (the proxy asks for it; those bytes are not counted)',
        variants: 'see bench/pin-bench.ts: every ours device has done one unmeasured pin first (its full sync); each pin toggles its chat so that every measured pin sends a patch',
        oursCold: 'runs bench/.build/pin-runner (functions/pin-chat.ts bundled with a bench wrapper that sets the simulator root key inside the bundle)',
      },
    };
    await writeFile(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\nwrote ${RESULTS} (${((performance.now() - benchStarted) / 1000).toFixed(0)} s)`);
  } finally {
    killBenchChildren();
    await dynamodb.stop();
  }
}

await main();
