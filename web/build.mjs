// Builds the Integrations page: the <dealerai-integrations> bundle and the standalone host
// page that `make dev` serves.
//
//   node build.mjs [--outdir DIR]   bundle into DIR (default ../build/web)
//   node build.mjs --size           also print the bundle's size, raw and gzipped
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const at = args.indexOf("--outdir");
const outdir = resolve(at >= 0 ? args[at + 1] : join(here, "..", "build", "web"));

const common = {
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  legalComments: "none",
  logLevel: "warning",
  absWorkingDir: here,
};
await build({ ...common, entryPoints: ["src/index.ts"], outfile: join(outdir, "dealerai-integrations.js") });
await build({ ...common, entryPoints: ["standalone/standalone.ts"], outfile: join(outdir, "standalone", "standalone.js") });
mkdirSync(join(outdir, "standalone"), { recursive: true });
for (const f of ["index.html", "standalone.css"]) {
  copyFileSync(join(here, "standalone", f), join(outdir, "standalone", f));
}

if (args.includes("--size")) {
  const bundle = readFileSync(join(outdir, "dealerai-integrations.js"));
  const kb = (n) => (n / 1024).toFixed(1) + " KB";
  console.log(`dealerai-integrations.js: ${kb(bundle.length)}, ${kb(gzipSync(bundle, { level: 9 }).length)} gzipped (target 60 KB gzipped)`);
}
