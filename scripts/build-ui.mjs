// Bundles the dashboard page (src/web/ui, TypeScript + Preact) into dist/web with esbuild:
// app.js (minified, no source of its own fetched at run time), app.css, index.html, icon.svg.
// Run by `npm run build` (and so at install, through `prepare`).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';

const out = 'dist/web';
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: 'src/web/ui/main.tsx' },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
  outdir: out,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
});
for (const f of ['index.html', 'app.css', 'icon.svg']) copyFileSync(`src/web/ui/${f}`, `${out}/${f}`);
