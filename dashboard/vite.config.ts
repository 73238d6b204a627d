import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The status page: `npx vite build --config dashboard/vite.config.ts` writes dist/dashboard/, which the
// executor serves at `/` (API under `/api/`). The built index.html must stay CSP-clean (no inline script
// or style): one module script and one stylesheet, both files under assets/.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  plugins: [react()],
  build: {
    outDir: '../dist/dashboard',
    emptyOutDir: true,
    // Never inline assets as data: URLs (a strict CSP would refuse them).
    assetsInlineLimit: 0,
    // One small app: no modulepreload polyfill, no extra chunks.
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
});
