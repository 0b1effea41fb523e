// Bundles the dashboard page (src/web/ui, TypeScript + Preact) into dist/web with esbuild:
// app-HASH.js (minified, nothing fetched from elsewhere at run time) and app-HASH.css under
// content-hashed names (the server caches those for good), index.html pointing at them, and
// icon.svg. Run by `npm run build` (and so at install, through `prepare`).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';

const out = 'dist/web';
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const r = await build({
  entryPoints: { app: 'src/web/ui/main.tsx', style: 'src/web/ui/app.css' },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
  outdir: out,
  entryNames: 'app-[hash]',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
});
const built = Object.keys(r.metafile.outputs).map((p) => basename(p));
const js = built.find((f) => f.endsWith('.js'));
const css = built.find((f) => f.endsWith('.css'));
if (!js || !css) throw new Error(`esbuild produced ${built.join(', ')}`);
const page = readFileSync('src/web/ui/index.html', 'utf8')
  .replace('/assets/app.js', `/assets/${js}`)
  .replace('/assets/app.css', `/assets/${css}`);
if (!page.includes(js) || !page.includes(css)) throw new Error('index.html must refer to /assets/app.js and /assets/app.css');
writeFileSync(`${out}/index.html`, page);
copyFileSync('src/web/ui/icon.svg', `${out}/icon.svg`);
