import { describe, expect, it } from '@jest/globals';
import { OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import { esbuildOptions, lambdaBundling } from '../../infra/bundling.js';

describe('bundling options', () => {
  it('give the benchmark (plain esbuild) the same build that NodejsFunction ships', () => {
    // Act: the NodejsFunction options, translated to esbuild's vocabulary
    const shipped = {
      format: lambdaBundling.format === OutputFormat.ESM ? 'esm' : 'cjs',
      target: lambdaBundling.target,
      minify: lambdaBundling.minify,
      sourcemap: lambdaBundling.sourceMap && lambdaBundling.sourceMapMode === SourceMapMode.DEFAULT ? 'linked' : lambdaBundling.sourceMapMode,
      sourcesContent: lambdaBundling.sourcesContent,
      mainFields: lambdaBundling.mainFields,
      banner: { js: lambdaBundling.banner },
      external: lambdaBundling.externalModules,
    };
    // Assess
    expect(esbuildOptions).toEqual({ ...shipped, bundle: true, platform: 'node' });
    expect(esbuildOptions).toMatchObject({ format: 'esm', target: 'node22', minify: true, mainFields: ['module', 'main'] });
    expect(esbuildOptions.external).toEqual(['sharp', 'jimp', 'link-preview-js', 'audio-decode', 'music-metadata']);
    expect(lambdaBundling.bundleAwsSDK).toBe(true);
  });
});
