// Rules for the browser client's source: no build step, small modules, data never parsed as HTML.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const STATIC = resolve(dirname(fileURLToPath(import.meta.url)), "../../dynamowave/static");
const JS = join(STATIC, "js");
const sources = readdirSync(JS)
  .filter((f) => f.endsWith(".js"))
  .map((f) => ({ file: f, text: readFileSync(join(JS, f), "utf8") }));

test("index.html loads the entry module from the served folder", () => {
  const html = readFileSync(join(STATIC, "index.html"), "utf8");
  assert.match(html, /<script type="module" src="\/static\/js\/main\.js"><\/script>/);
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, "no inline script: the CSP forbids it");
  assert.match(html, /script-src 'self';/);
});

test("every relative import resolves to a file (there is no bundler to catch a typo)", () => {
  for (const { file, text } of sources) {
    for (const [, spec] of text.matchAll(/^import .* from "(\.[^"]+)";$/gm)) {
      assert.ok(spec.endsWith(".js"), `${file}: ${spec} needs its .js extension in a browser`);
      assert.ok(existsSync(join(JS, spec)), `${file}: ${spec} does not exist`);
    }
  }
});

test("no module over 250 lines", () => {
  for (const { file, text } of sources) {
    const lines = text.split("\n").length - 1;
    assert.ok(lines <= 250, `${file} has ${lines} lines`);
  }
});

test("no HTML parsing of anything: text goes in with textContent", () => {
  for (const { file, text } of sources) {
    assert.doesNotMatch(text, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/, file);
  }
});

test("no block of 6 lines repeated across the modules", () => {
  const seen = new Map();
  for (const { file, text } of sources) {
    const lines = text.split("\n").map((l) => l.trim()).filter((l) => l && !/^[})\];,]+$/.test(l));
    for (let i = 0; i + 6 <= lines.length; i++) {
      const block = lines.slice(i, i + 6).join("\n");
      const where = `${file}:${i}`;
      assert.ok(!seen.has(block), `repeated in ${seen.get(block)} and ${where}:\n${block}`);
      seen.set(block, where);
    }
  }
});
