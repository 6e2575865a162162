// Bundle js/src into the one ES module anywidget loads (eleven_nb/static/player.js) and copy the CSS.
// `node build.mjs [outdir]`: the default outdir is the package's; check_bundle_fresh.sh builds to a temp dir.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(process.argv[2] || join(here, "..", "eleven_nb", "static"));
mkdirSync(outdir, { recursive: true });
await build({
  entryPoints: [join(here, "src", "index.js")],
  outfile: join(outdir, "player.js"),
  bundle: true,
  format: "esm",
  target: "es2020",
  legalComments: "none",
  logLevel: "warning",
  banner: { js: "// eleven_nb player: built from js/src by `npm run build` (do not edit)." },
});
copyFileSync(join(here, "src", "player.css"), join(outdir, "player.css"));
