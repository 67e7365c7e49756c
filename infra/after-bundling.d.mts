/** What index.mjs leaves out for infra/after-bundling.mjs to rebuild beside it (esbuild externals). */
export declare const BUILT_APART_EXTERNALS: string[];
/** Every file infra/after-bundling.mjs writes beside index.mjs. */
export declare const SIDE_FILES: string[];
export interface AfterBundlingReport {
  /** Protobuf types (messages and enums), and the methods among their code compiled apart on first call. */
  waprotoTypes: number;
  waprotoMethods: number;
  builtinImports: number;
  /** Dynamic imports of built-ins (`import("node:http")`) made `require`s under a namespace's shape. */
  dynamicBuiltinImports: number;
  /** Built-in imports left as ESM imports: the banner's node:module, and namespace imports whose binding is not only used as `X.member`. */
  builtinImportsKept: string[];
  /** Module wrapper bodies compiled when they run (CommonJS and lazily initialised ES modules), those kept as code, and the bytes moved into strings. */
  moduleBodies?: { commonjs: number; esm: number; kept: number; bytes: { commonjs: number; esm: number } };
  inlineWasm: string[];
  imports: Record<string, number>;
}
/**
 * Runs the afterBundling step on `bundlePath` (esbuild's index.mjs) for `target` (e.g. node22); `verify` (default true)
 * compares the lazy WAProto with the installed one; `builtins: false` / `moduleBodies: false` skip those steps (measurements only).
 */
export declare function afterBundling(bundlePath: string, options: { target: string; verify?: boolean; builtins?: boolean; moduleBodies?: boolean }): Promise<AfterBundlingReport>;
/**
 * Built-in ESM imports of esbuild's output (`code`, starting with the banner that defines `require`) as `require`s,
 * columns kept: statements into declarations on the first line, dynamic imports into `$bim(…)`.
 */
export declare function builtinImportsToRequire(code: string): { code: string; rewritten: number; dynamic: number };
