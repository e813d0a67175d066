// The console's build: relative asset URLs (served at / by `syncflow console` and at /console/ by the
// server), the validator imported from ../core (the admission webhook's own code), pages split so
// the first one stays small.
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  base: './',
  plugins: [react()],
  server: { fs: { allow: ['..'] } },
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 2000, sourcemap: false },
});
