import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/** Builds the dashboard into dist/ui, served by the Function App under /api/ui. */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/api/ui/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../../dist/ui', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
  },
});
