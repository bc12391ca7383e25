// Tokenizes spec files with the extension's TextMate grammar, as VS Code does (vscode-textmate
// with the Oniguruma regex engine), and prints one JSON line per file:
// {"file": ..., "lines": [[[start, end, [scopes...]], ...], ...]}.
// Usage: node test/tokenize.js FILE...   (tests/test_vscode_grammar.py runs it)
"use strict";

const fs = require("fs");
const path = require("path");
const vsctm = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

const grammarPath = path.join(__dirname, "..", "syntaxes", "nndsl.tmLanguage.json");

async function main(files) {
  const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm")).buffer;
  await oniguruma.loadWASM(wasm);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (text) => new oniguruma.OnigString(text),
    }),
    loadGrammar: async (scopeName) =>
      scopeName === "source.nndsl"
        ? vsctm.parseRawGrammar(fs.readFileSync(grammarPath, "utf8"), grammarPath)
        : null,
  });
  const grammar = await registry.loadGrammar("source.nndsl");
  for (const file of files) {
    const text = fs.readFileSync(file, "utf8").replace(/\r\n?/g, "\n");
    let state = vsctm.INITIAL;
    const lines = [];
    for (const line of text.split("\n")) {
      const result = grammar.tokenizeLine(line, state);
      lines.push(result.tokens.map((token) => [token.startIndex, token.endIndex, token.scopes]));
      state = result.ruleStack;
    }
    process.stdout.write(JSON.stringify({ file, lines }) + "\n");
  }
}

main(process.argv.slice(2)).catch((error) => {
  console.error(error);
  process.exit(1);
});
