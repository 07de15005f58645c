/**
 * `netc lsp`: the language server. Diagnostics are published for the buffer text (not the disk), debounced
 * per document; a change re-checks that document and the open documents that import it, nothing else.
 */
import {
  createConnection, type Connection, ProposedFeatures, TextDocumentSyncKind, ResponseError, ErrorCodes,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import * as features from './features.js';
import { uriToPath, Workspace } from './workspace.js';

export const DEFAULT_DEBOUNCE_MS = 150;

export interface ServerOptions {
  /** Delay between the last edit and the re-check (overridable by the client's initializationOptions.debounceMs). */
  debounceMs?: number;
}

export function startServer(options: ServerOptions = {}, connection: Connection = createConnection(ProposedFeatures.all)): Connection {
  const ws = new Workspace();
  const buffers = new Map<string, TextDocument>();
  const timers = new Map<string, NodeJS.Timeout>();
  let debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;

  const publish = (path: string) => {
    const doc = ws.documents.get(path);
    if (!doc) return;
    let diagnostics;
    try {
      diagnostics = ws.diagnostics(path);
    } catch (e) {
      connection.console.error(`netc: internal error while checking ${path}: ${(e as Error).stack ?? e}`);
      return;
    }
    void connection.sendDiagnostics({ uri: doc.uri, version: doc.version, diagnostics });
  };

  /** Re-check a document, then the open documents that import it. */
  const check = (path: string) => {
    timers.delete(path);
    publish(path);
    for (const dependent of ws.dependents(path)) publish(dependent);
  };

  const schedule = (path: string) => {
    clearTimeout(timers.get(path));
    if (debounceMs <= 0) return check(path);
    timers.set(path, setTimeout(() => check(path), debounceMs));
  };

  connection.onInitialize((params) => {
    const init = params.initializationOptions as { debounceMs?: number } | undefined;
    if (typeof init?.debounceMs === 'number' && init.debounceMs >= 0) debounceMs = init.debounceMs;
    ws.roots = (params.workspaceFolders ?? []).map((f) => uriToPath(f.uri));
    if (!ws.roots.length && params.rootUri) ws.roots = [uriToPath(params.rootUri)];
    return {
      capabilities: {
        textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
        hoverProvider: true,
        definitionProvider: true,
        referencesProvider: true,
        documentSymbolProvider: true,
        renameProvider: { prepareProvider: true },
        inlayHintProvider: true,
        completionProvider: { triggerCharacters: ['"', ' ', '(', ',', '<', ';'] },
      },
      serverInfo: { name: 'netc' },
    };
  });

  connection.onDidOpenTextDocument(({ textDocument: t }) => {
    buffers.set(t.uri, TextDocument.create(t.uri, t.languageId, t.version, t.text));
    const doc = ws.open(t.uri, t.text, t.version);
    check(doc.path);
  });

  connection.onDidChangeTextDocument(({ textDocument: t, contentChanges }) => {
    const previous = buffers.get(t.uri);
    if (!previous) return;
    const next = TextDocument.update(previous, contentChanges, t.version);
    buffers.set(t.uri, next);
    const doc = ws.open(t.uri, next.getText(), t.version);
    schedule(doc.path);
  });

  connection.onDidCloseTextDocument(({ textDocument: t }) => {
    const path = uriToPath(t.uri);
    const dependents = ws.dependents(path);
    clearTimeout(timers.get(path));
    timers.delete(path);
    buffers.delete(t.uri);
    ws.close(t.uri);
    void connection.sendDiagnostics({ uri: t.uri, diagnostics: [] });
    for (const d of dependents) publish(d);
  });

  const path = (uri: string) => uriToPath(uri);
  connection.onHover((p) => features.hover(ws, path(p.textDocument.uri), p.position));
  connection.onDefinition((p) => features.definition(ws, path(p.textDocument.uri), p.position));
  connection.onReferences((p) => features.references(ws, path(p.textDocument.uri), p.position, p.context.includeDeclaration));
  connection.onDocumentSymbol((p) => features.documentSymbols(ws, path(p.textDocument.uri)));
  connection.onCompletion((p) => features.completion(ws, path(p.textDocument.uri), p.position));
  connection.onPrepareRename((p) => features.prepareRename(ws, path(p.textDocument.uri), p.position));
  connection.onRenameRequest((p) => {
    try {
      return features.rename(ws, path(p.textDocument.uri), p.position, p.newName);
    } catch (e) {
      return new ResponseError(ErrorCodes.InvalidParams, (e as Error).message);
    }
  });
  connection.languages.inlayHint.on((p) => features.inlayHints(ws, path(p.textDocument.uri), p.range));

  connection.listen();
  return connection;
}
