// Bundle the field app into fieldapp/static/fieldapp/ (committed, so `make run` needs no Node).
//   npm ci --prefix fieldapp/js && npm run build --prefix fieldapp/js    rebuild after changing src/
//   npm run check --prefix fieldapp/js                                 fail if the committed files are stale
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const app = join(here, "..");
const staticDir = join(app, "static", "fieldapp");
const check = process.argv.includes("--check");
const out = check ? mkdtempSync(join(tmpdir(), "fieldapp-")) : staticDir;

const common = { bundle: true, minify: true, legalComments: "none", target: ["es2020"], logLevel: "warning" };
await esbuild.build({ ...common, entryPoints: [join(here, "src", "app.js")], format: "esm", outfile: join(out, "app.js") });

const hash = (path) => createHash("sha256").update(readFileSync(path)).digest("hex").slice(0, 16);
const appHash = hash(join(out, "app.js"));
// The shell the worker keeps, each with a revision that changes when the file does.
const shell = [
  { url: "/static/fieldapp/app.js", revision: appHash },
  { url: "/static/fieldapp/app.css", revision: hash(join(staticDir, "app.css")) },
  { url: "/static/fieldapp/icon.svg", revision: hash(join(staticDir, "icon.svg")) },
  { url: "/app/manifest.webmanifest", revision: hash(join(staticDir, "manifest.webmanifest")) },
  {
    url: "/app/",
    revision: createHash("sha256")
      .update(readFileSync(join(app, "templates", "fieldapp", "index.html")))
      .update(appHash)
      .digest("hex")
      .slice(0, 16),
  },
];
await esbuild.build({
  ...common,
  entryPoints: [join(here, "src", "sw.js")],
  format: "iife",
  outfile: join(out, "sw.js"),
  define: { "self.__WB_MANIFEST": JSON.stringify(shell), "process.env.NODE_ENV": '"production"' },
});

if (check) {
  const stale = ["app.js", "sw.js"].filter(
    (name) => readFileSync(join(out, name)).toString() !== readFileSync(join(staticDir, name)).toString(),
  );
  rmSync(out, { recursive: true, force: true });
  if (stale.length) {
    console.error(`Stale build: ${stale.join(", ")}. Run: npm ci --prefix fieldapp/js && npm run build --prefix fieldapp/js`);
    process.exit(1);
  }
  console.log("The committed build matches the sources.");
}
