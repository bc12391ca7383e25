// The nndsl extension: the language (nndsl, *.nn) and its grammar are declared in package.json;
// this starts the language server, `nndsl lsp` over stdio (the command is the setting
// nndsl.server.command), for diagnostics, hover, completion, formatting, symbols and definitions.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const [command, ...args] = vscode.workspace.getConfiguration("nndsl").get("server.command", ["nndsl", "lsp"]);
  const server = { command, args, transport: TransportKind.stdio };
  client = new LanguageClient("nndsl", "nndsl language server", server, {
    documentSelector: [{ scheme: "file", language: "nndsl" }, { scheme: "untitled", language: "nndsl" }],
  });
  context.subscriptions.push(client);
  return client.start().catch((error) => {
    vscode.window.showErrorMessage(
      `nndsl: could not start '${[command, ...args].join(" ")}' (${error.message}); ` +
        "install it with pip install 'nndsl[lsp]' or set nndsl.server.command"
    );
  });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
