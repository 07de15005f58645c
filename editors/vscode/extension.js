// The VS Code client: starts `netc lsp --stdio` for .net files. All language smarts live in the server.
'use strict';
const vscode = require('vscode');
const { LanguageClient, TransportKind } = require('vscode-languageclient/node');

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration('netc');
  const command = config.get('path', 'netc');
  const run = { command, args: ['lsp', '--stdio'], transport: TransportKind.stdio, options: { shell: process.platform === 'win32' } };
  client = new LanguageClient('netc', 'netc', { run, debug: run }, {
    documentSelector: [{ scheme: 'file', language: 'netc' }, { scheme: 'untitled', language: 'netc' }],
    initializationOptions: { debounceMs: config.get('debounceMs', 150) },
    synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher('**/*.net') },
  });
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
