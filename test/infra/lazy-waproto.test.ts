import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildLazyWaproto, checkScopes, splitWaproto, verifyLazyWaproto, WAPROTO_MODULE, WAPROTO_TYPES } from '../../infra/lazy-waproto.mjs';

const waprotoFile = fileURLToPath(new URL('../../node_modules/@whiskeysockets/baileys/WAProto/index.js', import.meta.url));

/** A WAProto-shaped module: `body` is the proto namespace's content (4-space indentation, as pbjs writes it). */
const synthetic = (body: string) =>
  ['import $protobuf from "protobufjs/minimal.js";', 'const $root = $protobuf.roots["default"] || ($protobuf.roots["default"] = {});', '',
    'export const proto = $root.proto = (() => {', '', '    const proto = {};', '', body, '', '    return proto;', '})();', '', 'export { $root as default };', ''].join('\n');

describe('lazy WAProto (infra/lazy-waproto.mjs)', () => {
  it('splits the installed WAProto into its 672 types, each nested type and large method a factory of its own', () => {
    const { definitions } = splitWaproto(readFileSync(waprotoFile, 'utf8'));
    const types = definitions.filter((definition) => !definition.method);
    expect(types).toHaveLength(672);
    expect(types.map((definition) => definition.path)).toEqual(expect.arrayContaining(['Message', 'Message.AppStateSyncKeyShare', 'SyncActionValue.PinAction', 'SyncdSnapshot', 'ExternalBlobReference']));
    expect(definitions.filter((definition) => definition.method).map((definition) => definition.name)).toEqual(expect.arrayContaining(['encode', 'decode', 'fromObject', 'toObject']));
  });

  it('refuses to separate a nested type that uses a name its enclosing type declares (moving it would rebind it)', async () => {
    const source = synthetic([
      '    proto.Outer = (function() {',
      '        function Outer(p) {}',
      '        const shared = 1;',
      '        Outer.Inner = (function() {',
      '            function Inner(p) { this.value = shared; }',
      '            return Inner;',
      '        })();',
      '        return Outer;',
      '    })();',
    ].join('\n'));
    await expect(checkScopes(splitWaproto(source))).rejects.toThrow('Outer declares shared, which a nested type uses');
  });

  it('builds a module equal to the installed WAProto, and a damaged factory fails the check and every read of it, loudly', async () => {
    const outdir = mkdtempSync(join(tmpdir(), 'lazy-waproto-'));
    try {
      // Act
      const built = await buildLazyWaproto({ waprotoFile, outdir, target: 'node22' });
      const compared = await verifyLazyWaproto({ waprotoFile, outdir });
      // Assess
      expect(built).toMatchObject({ types: 672, params: ['$Reader', '$Writer', '$protobuf', '$root', '$util', 'longToNumber', 'longToString'] });
      expect(compared).toBe(672);
      // Prepare: one factory's code replaced by a broken one (same length: the offsets stay valid)
      const types = readFileSync(join(outdir, WAPROTO_TYPES), 'latin1').split('\n');
      const { proto } = (await import(`${pathToFileURL(join(outdir, WAPROTO_MODULE)).href}?probe`)) as { proto: Record<string, unknown> };
      expect(typeof proto.ADVDeviceIdentity).toBe('function'); // the first factory, intact
      const line = 0;
      types[line] = `throw new Error("broken");${' '.repeat(types[line]!.length - 'throw new Error("broken");'.length)}`;
      writeFileSync(join(outdir, WAPROTO_TYPES), types.join('\n'), 'latin1');
      const { proto: damaged } = (await import(`${pathToFileURL(join(outdir, WAPROTO_MODULE)).href}?damaged`)) as { proto: Record<string, unknown> };
      // Act + Assess
      expect(() => damaged.ADVDeviceIdentity).toThrow('broken');
      expect(() => damaged.ADVDeviceIdentity).toThrow('broken');
      await expect(verifyLazyWaproto({ waprotoFile, outdir })).rejects.toThrow('broken');
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }, 60_000);
});
