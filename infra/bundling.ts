/**
 * The one definition of how the Lambda bundle is built: infra (NodejsFunction) and the benchmark
 * (plain esbuild) both derive their settings from here, so what is measured is what ships.
 */
import { OutputFormat, SourceMapMode, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { BuildOptions } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { BUILT_APART_EXTERNALS } from './after-bundling.mjs';

/** The project root: NodejsFunction runs esbuild there, and so does the benchmark (esbuild's working directory). */
const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Node.js major of the Lambda runtime; the esbuild target follows it. */
export const NODE_MAJOR = 22;

/**
 * The function's Node.js options (its NODE_OPTIONS; also the local runner's, the tests' and the bench's Lambda
 * children's): AsyncLocalStorage on AsyncContextFrame, Node 24's default. Baileys makes one AsyncLocalStorage per
 * connection (its key-store transactions), and Node 22's async_hooks one keeps every instance it ever ran in a list
 * that each new promise walks: a warm instance that reconnected 30 times spent 3 µs on every await, 1,000 times 84 µs
 * (0.2 µs with none). On AsyncContextFrame it is 0.05 µs whatever the count (measured here, Node 22.23).
 */
export const NODE_OPTIONS = '--experimental-async-context-frame';

/** Lazily required media packages of Baileys: never loaded by a pin, kept out of the bundle. */
export const EXTERNAL_MODULES = ['sharp', 'jimp', 'link-preview-js', 'audio-decode', 'music-metadata'];

/**
 * Left out of index.mjs and rebuilt beside it by infra/after-bundling.mjs, so that import compiles only what a pin
 * uses: WAProto (each protobuf type compiled on first use) and whatsapp-rust-bridge (its WebAssembly in files).
 */
export const BUILT_APART = BUILT_APART_EXTERNALS;

/** Import substitution, relative to the project root: Baileys' entry without its star export of WAProto (see the file). */
export const BAILEYS_ALIAS = ['@whiskeysockets/baileys', './infra/baileys-entry.mjs'] as const;

/** ESM output still meets CommonJS code that calls `require`: give it a real one. */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __pinCreateRequire } from 'node:module'; const require = __pinCreateRequire(import.meta.url);";

/** esbuild target of the bundle (`node22`). */
export const TARGET = `node${NODE_MAJOR}`;
const MAIN_FIELDS = ['module', 'main'];

/** The afterBundling step of infra and bench: `node infra/after-bundling.mjs <index.mjs> --target node22`. */
export const afterBundlingCommand = (inputDir: string, outputDir: string) =>
  `node "${inputDir}/infra/after-bundling.mjs" "${outputDir}/index.mjs" --target ${TARGET}`;

/** Plain esbuild options: `esbuild.build({ ...esbuildOptions, entryPoints, outfile })`. */
export const esbuildOptions: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: TARGET,
  minify: true,
  sourcemap: 'linked', // index.mjs.map beside the bundle; read only with NODE_OPTIONS=--enable-source-maps
  sourcesContent: false,
  mainFields: MAIN_FIELDS,
  banner: { js: ESM_REQUIRE_BANNER },
  external: [...EXTERNAL_MODULES, ...BUILT_APART],
  alias: { [BAILEYS_ALIAS[0]]: BAILEYS_ALIAS[1] },
  absWorkingDir: PROJECT_ROOT,
};

/**
 * The same settings for NodejsFunction. The AWS SDK v3 is bundled (not taken from the runtime):
 * measured, an external `@aws-sdk/*` made the cold import 20–40 ms slower.
 */
export const lambdaBundling: BundlingOptions = {
  commandHooks: {
    beforeBundling: () => [],
    beforeInstall: () => [],
    // WAProto compiled type by type on first use, the bridge's WebAssembly as files, built-ins by require: see the script.
    afterBundling: (inputDir: string, outputDir: string) => [afterBundlingCommand(inputDir, outputDir)],
  },
  format: OutputFormat.ESM,
  target: TARGET,
  minify: true,
  sourceMap: true,
  sourceMapMode: SourceMapMode.DEFAULT,
  sourcesContent: false,
  mainFields: MAIN_FIELDS,
  banner: ESM_REQUIRE_BANNER,
  externalModules: [...EXTERNAL_MODULES, ...BUILT_APART],
  esbuildArgs: { '--alias': `${BAILEYS_ALIAS[0]}=${BAILEYS_ALIAS[1]}` },
  bundleAwsSDK: true,
};
