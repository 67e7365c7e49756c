/**
 * The one definition of how the Lambda bundle is built: infra (NodejsFunction) and the benchmark
 * (plain esbuild) both derive their settings from here, so what is measured is what ships.
 */
import { OutputFormat, SourceMapMode, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { BuildOptions } from 'esbuild';

/** Node.js major of the Lambda runtime; the esbuild target follows it. */
export const NODE_MAJOR = 22;

/** Lazily required media packages of Baileys: never loaded by a pin, kept out of the bundle. */
export const EXTERNAL_MODULES = ['sharp', 'jimp', 'link-preview-js', 'audio-decode', 'music-metadata'];

/** ESM output still meets CommonJS code that calls `require`: give it a real one. */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __pinCreateRequire } from 'node:module'; const require = __pinCreateRequire(import.meta.url);";

/** esbuild target of the bundle (`node22`). */
export const TARGET = `node${NODE_MAJOR}`;
const MAIN_FIELDS = ['module', 'main'];

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
  external: EXTERNAL_MODULES,
};

/**
 * The same settings for NodejsFunction. The AWS SDK v3 is bundled (not taken from the runtime):
 * measured, an external `@aws-sdk/*` made the cold import 20–40 ms slower.
 */
export const lambdaBundling: BundlingOptions = {
  commandHooks: {
    beforeBundling: () => [],
    beforeInstall: () => [],
    // Measured: −50 ms cold import (of ~500) and −0.2 MB zipped; see infra/extract-wasm.mjs.
    afterBundling: (inputDir: string, outputDir: string) => [`node "${inputDir}/infra/extract-wasm.mjs" "${outputDir}/index.mjs"`],
  },
  format: OutputFormat.ESM,
  target: TARGET,
  minify: true,
  sourceMap: true,
  sourceMapMode: SourceMapMode.DEFAULT,
  sourcesContent: false,
  mainFields: MAIN_FIELDS,
  banner: ESM_REQUIRE_BANNER,
  externalModules: EXTERNAL_MODULES,
  bundleAwsSDK: true,
};
