import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import { BUILT_APART_EXTERNALS } from '../../infra/after-bundling.mjs';
import { afterBundlingCommand, BAILEYS_ALIAS, BUILT_APART, esbuildOptions, EXTERNAL_MODULES, lambdaBundling, NODE_OPTIONS } from '../../infra/bundling.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('bundling options', () => {
  it('give the benchmark (plain esbuild) the same build that NodejsFunction ships', () => {
    // Act: the NodejsFunction options, translated to esbuild's vocabulary
    const [aliasFrom, aliasTo] = String(lambdaBundling.esbuildArgs?.['--alias']).split('=');
    const shipped = {
      format: lambdaBundling.format === OutputFormat.ESM ? 'esm' : 'cjs',
      target: lambdaBundling.target,
      minify: lambdaBundling.minify,
      sourcemap: lambdaBundling.sourceMap && lambdaBundling.sourceMapMode === SourceMapMode.DEFAULT ? 'linked' : lambdaBundling.sourceMapMode,
      sourcesContent: lambdaBundling.sourcesContent,
      mainFields: lambdaBundling.mainFields,
      banner: { js: lambdaBundling.banner },
      external: lambdaBundling.externalModules,
      alias: { [aliasFrom!]: aliasTo },
      absWorkingDir: root, // NodejsFunction runs esbuild in the project root, where the alias path is relative to
    };
    // Assess
    expect(esbuildOptions).toEqual({ ...shipped, bundle: true, platform: 'node' });
    expect(Object.keys(lambdaBundling.esbuildArgs ?? {})).toEqual(['--alias']);
    expect(esbuildOptions).toMatchObject({ format: 'esm', target: 'node22', minify: true, mainFields: ['module', 'main'] });
    expect(EXTERNAL_MODULES).toEqual(['sharp', 'jimp', 'link-preview-js', 'audio-decode', 'music-metadata']);
    expect(esbuildOptions.external).toEqual([...EXTERNAL_MODULES, '*/WAProto/index.js', 'whatsapp-rust-bridge']);
    expect(BUILT_APART).toEqual(BUILT_APART_EXTERNALS);
    expect(lambdaBundling.bundleAwsSDK).toBe(true);
  });

  it('run the afterBundling step on the output (NodejsFunction commandHooks), as the benchmark does', () => {
    expect(lambdaBundling.commandHooks?.afterBundling('/in', '/out')).toEqual(['node "/in/infra/after-bundling.mjs" "/out/index.mjs" --target node22']);
    expect(afterBundlingCommand('/in', '/out')).toBe('node "/in/infra/after-bundling.mjs" "/out/index.mjs" --target node22');
    expect(lambdaBundling.commandHooks?.beforeBundling('/in', '/out')).toEqual([]);
  });

  it('alias Baileys to infra/baileys-entry.mjs, which is the installed lib/index.js with WAProto exported by name', () => {
    // Prepare: what the installed Baileys entry exports, line by line, with paths as seen from infra/
    const installed = readFileSync(`${root}node_modules/@whiskeysockets/baileys/lib/index.js`, 'utf8')
      .split('\n')
      .filter((line) => /^(import|export) /.test(line))
      .map((line) =>
        line
          .replace("export * from '../WAProto/index.js';", "export { proto } from '../WAProto/index.js';")
          .replace(/'\.\.\/WAProto\//, "'../node_modules/@whiskeysockets/baileys/WAProto/")
          .replace(/'\.\//, "'../node_modules/@whiskeysockets/baileys/lib/"),
      );
    const entry = readFileSync(`${root}${BAILEYS_ALIAS[1].slice(2)}`, 'utf8').split('\n').filter((line) => /^(import|export) /.test(line));
    // Assess: WAProto exports exactly `proto` (and its default), so the named re-export is the same namespace
    expect(BAILEYS_ALIAS[0]).toBe('@whiskeysockets/baileys');
    expect(entry).toEqual(installed);
    const waproto = readFileSync(`${root}node_modules/@whiskeysockets/baileys/WAProto/index.js`, 'utf8');
    expect([...waproto.matchAll(/^export (?:const (\w+) =|\{ (.+) \})/gm)].map((match) => match[1] ?? match[2])).toEqual(['proto', '$root as default']);
  });
});

describe("the function's Node.js options", () => {
  it('are the ones every script that opens WhatsApp connections runs with: the local runner, login, invoke and the tests', () => {
    // Prepare
    const { scripts } = JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { scripts: Record<string, string> };
    // Act
    const missing = ['start', 'login', 'invoke', 'test', 'test:soak'].filter((name) => !scripts[name]!.includes(NODE_OPTIONS));
    // Assess
    expect(missing).toEqual([]);
  });
});
