/** Builds the Lambda bundle and the bench's own bundles with the infra's esbuild options; sizes and cold import times. */
import { execFile as execFileCallback } from 'node:child_process';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build, type Metafile } from 'esbuild';
import { afterBundling, type AfterBundlingReport } from '../infra/after-bundling.mjs';
import { esbuildOptions, EXTERNAL_MODULES, TARGET } from '../infra/bundling.js';

const execFile = promisify(execFileCallback);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BUILD_DIR = join(ROOT, 'bench/.build');
/** Node 22, the Lambda runtime's major (the "node" devDependency). */
export const NODE = join(ROOT, 'node_modules/.bin/node');

export interface Bundle {
  name: string;
  /** The entry module (index.mjs). */
  file: string;
  /** Every file of the asset except source maps. */
  bytes: number;
  mapBytes: number;
  /** `zip -9` of the whole asset folder, as deployed (source map included). */
  zipBytes: number;
  /** `zip -9` of the asset without its source map. */
  zipBytesWithoutMap: number;
  /** Largest contributors (npm package or project folder) by bytes in the output. */
  largestInputs: Array<{ input: string; bytes: number }>;
  /** What the afterBundling step did (not for `plain`). */
  report?: AfterBundlingReport;
}

function largestInputs(metafile: Metafile): Bundle['largestInputs'] {
  const byInput = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
      const key = match ? match[1]! : path.split('/').slice(0, -1).join('/') || path;
      byInput.set(key, (byInput.get(key) ?? 0) + bytesInOutput);
    }
  }
  return [...byInput].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([input, bytes]) => ({ input, bytes }));
}

async function zipSize(dir: string, zipFile: string, exclude: string[]): Promise<number> {
  await rm(zipFile, { force: true });
  await execFile('zip', ['-9', '-q', '-r', zipFile, '.', ...exclude.flatMap((pattern) => ['-x', pattern])], { cwd: dir });
  return (await stat(zipFile)).size;
}

/**
 * Bundles `entry` into <dir>/<name>/index.mjs (dir: bench/.build) as infra ships it: esbuild with infra's options,
 * then the afterBundling step. `plain` is one esbuild build with nothing built apart, no alias and no afterBundling step (the
 * naive baseline is bundled plainly).
 */
export async function bundle(name: string, entry: string, options: { plain?: boolean; dir?: string } = {}): Promise<Bundle> {
  const outdir = join(options.dir ?? BUILD_DIR, name);
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  const file = join(outdir, 'index.mjs');
  const result = await build({
    ...esbuildOptions,
    ...(options.plain && { plugins: [], external: EXTERNAL_MODULES, alias: {} }),
    entryPoints: [join(ROOT, entry)],
    outfile: file,
    metafile: true,
    logLevel: 'error',
  });
  const report = options.plain ? undefined : await afterBundling(file, { target: TARGET }); // as infra's afterBundling hook does
  let bytes = 0;
  let mapBytes = 0;
  for (const entryName of await readdir(outdir, { recursive: true })) {
    const info = await stat(join(outdir, entryName));
    if (!info.isFile()) continue;
    if (entryName.endsWith('.map')) mapBytes += info.size;
    else bytes += info.size;
  }
  return {
    name,
    file,
    bytes,
    mapBytes,
    zipBytes: await zipSize(outdir, join(options.dir ?? BUILD_DIR, `${name}.zip`), []),
    zipBytesWithoutMap: await zipSize(outdir, join(options.dir ?? BUILD_DIR, `${name}-without-map.zip`), ['*.map']),
    largestInputs: largestInputs(result.metafile),
    report,
  };
}

/** A child's environment without the parent's loaders and caches (tsx, NODE_OPTIONS, a compile cache dir), plus `extra`. */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.NODE_COMPILE_CACHE;
  return { ...env, ...extra };
}

const IMPORT_TIMER = `
const cpu = () => { const { user, system } = process.cpuUsage(); return (user + system) / 1000; };
const [started, cpuBefore] = [performance.now(), cpu()];
await import(process.env.BENCH_IMPORT_URL);
const [ms, cpuMs] = [performance.now() - started, cpu() - cpuBefore];
process.stdout.write(JSON.stringify({ ms, cpuMs, processMs: performance.now(), rssMb: process.memoryUsage.rss() / 2 ** 20 }));
process.exit(0);`;

export interface ColdImport {
  /** `await import()` wall time. */
  ms: number;
  /** CPU time of the import (steadier than wall time on a busy machine). */
  cpuMs: number;
  /** Process start → imported. */
  processMs: number;
  rssMb: number;
}

/** Cold import of a bundle in a fresh Node 22 process. */
export async function coldImport(file: string, env: Record<string, string> = {}): Promise<ColdImport> {
  const { stdout } = await execFile(NODE, ['--input-type=module', '-e', IMPORT_TIMER], {
    env: childEnv({ ...env, BENCH_IMPORT_URL: pathToFileURL(file).href }),
    timeout: 30_000,
  });
  return JSON.parse(stdout) as ColdImport;
}
