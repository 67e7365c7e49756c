/** The array of module body strings, declared on the bundle's first line. */
export declare const BODIES: string;
export interface SourceMapV3 { version: number; sources: string[]; names: string[]; mappings: string; [key: string]: unknown }
/** Module wrapper bodies of `code` (esbuild's output) as strings compiled when they run; the source map follows. */
export declare function deferModuleBodies(code: string, map: SourceMapV3): {
  code: string;
  map: SourceMapV3;
  report: { commonjs: number; esm: number; kept: number; bytes: { commonjs: number; esm: number } };
};
