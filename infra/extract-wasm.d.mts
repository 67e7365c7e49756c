/** Rewrites the bundle at `bundlePath` in place, moving inline base64 WebAssembly into .wasm files beside it; returns their names. */
export declare function extractWasm(bundlePath: string): string[];
