import { describe, expect, it } from 'vitest';

/**
 * The vault modules load. Imported inside the test, so that a module that throws while loading (a schema
 * zod refuses to build, a TextDecoder with an unknown encoding) fails this test instead of only failing
 * to import the other files, which a test runner reports as an error, not as a failed test.
 */
describe('core/vault/* modules', () => {
  it('each loads and exports what the others use', async () => {
    const change = await import('../../core/vault/change.js');
    const safeFs = await import('../../core/vault/safe-fs.js');
    const readCache = await import('../../core/vault/read-cache.js');
    const localPort = await import('../../core/vault/local-port.js');
    const httpPort = await import('../../core/vault/http-port.js');
    expect(change.VaultChange.safeParse({ message: 'cloud: draft X', operations: [] }).success).toBe(true);
    expect(new safeFs.VaultFiles('/nonexistent').root).toBe('/nonexistent');
    expect(typeof readCache.VaultReadCache).toBe('function');
    expect(typeof localPort.LocalVaultPort).toBe('function');
    expect(typeof httpPort.serveVaultPort).toBe('function');
  });
});
