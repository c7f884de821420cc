// The dashboard's build: `vite build web` writes dist/web (beside the compiled TypeScript, ignored by git and eslint), which `fashion-cnn serve` serves.
// In development (`vite web`), /api is proxied to a running `fashion-cnn serve` on port 8080.
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: './',
  build: { outDir: '../dist/web', emptyOutDir: true, chunkSizeWarningLimit: 800 },
  server: { proxy: { '/api': 'http://127.0.0.1:8080', '/healthz': 'http://127.0.0.1:8080' } },
});
