// What `@whiskeysockets/baileys` resolves to in the Lambda bundle (an esbuild alias, infra/bundling.ts): Baileys' own
// lib/index.js, line for line, except that `proto` is re-exported by name instead of by `export *`. WAProto is an
// external of the bundle (infra/after-bundling.mjs rebuilds it), and a star export from an external makes esbuild
// build Baileys' whole export namespace at run time, which keeps everything Baileys exports in the bundle (~0.4 MB
// more, WAM's tables among it) instead of what the handler uses. test/infra/bundling.test.ts keeps this file in
// step with the installed lib/index.js.
import makeWASocket from '../node_modules/@whiskeysockets/baileys/lib/Socket/index.js';
export { proto } from '../node_modules/@whiskeysockets/baileys/WAProto/index.js';
export * from '../node_modules/@whiskeysockets/baileys/lib/Utils/index.js';
export * from '../node_modules/@whiskeysockets/baileys/lib/Types/index.js';
export * from '../node_modules/@whiskeysockets/baileys/lib/Defaults/index.js';
export * from '../node_modules/@whiskeysockets/baileys/lib/WABinary/index.js';
export * from '../node_modules/@whiskeysockets/baileys/lib/WAM/index.js';
export * from '../node_modules/@whiskeysockets/baileys/lib/WAUSync/index.js';
export { makeWASocket };
export default makeWASocket;
