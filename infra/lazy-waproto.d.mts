/** The module Baileys imports instead of WAProto/index.js, and the file of factories beside it. */
export declare const WAPROTO_MODULE: string;
export declare const WAPROTO_TYPES: string;
export interface WaprotoDefinition {
  id: number;
  parent?: number;
  name: string;
  /** e.g. Message.ImageMessage, or Message.decode() for a method */
  path: string;
  line: number;
  method?: boolean;
  body: string;
  children: number[];
}
export interface SplitWaproto {
  header: string;
  namespace: string;
  definitions: WaprotoDefinition[];
}
/** Splits WAProto's generated source into its header, the namespace and the factories (throws on any unexpected layout). */
export declare function splitWaproto(source: string): SplitWaproto;
/** Proves that every factory can move out of its enclosing scopes; returns the module-scope names they get as parameters. */
export declare function checkScopes(split: SplitWaproto): Promise<string[]>;
/** Writes waproto.mjs (+ .map) and waproto-types.js into `outdir`. */
export declare function buildLazyWaproto(options: { waprotoFile: string; outdir: string; target: string }): Promise<{ types: number; methods: number; params: string[]; typesBytes: number }>;
/** Compares every type of the lazy module in `outdir` with the installed WAProto; throws on the first difference; returns the number compared. */
export declare function verifyLazyWaproto(options: { waprotoFile: string; outdir: string }): Promise<number>;
