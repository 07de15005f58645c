/**
 * `netc lsp`: the language server. Diagnostics are published for the buffer text (not the disk), debounced
 * per document; a change re-checks that document, then (each as its own task, so a newer edit cancels them)
 * the open documents that import it. Files changed on disk (the client's file watcher) re-check the open
 * documents that read them. Workspace scans (references, rename) are bounded and yield between files.
 */
import {
  type CancellationToken,
  createConnection,
  type Connection,
  DidChangeWatchedFilesNotification,
  ErrorCodes,
  FileChangeType,
  LSPErrorCodes,
  MessageType,
  ProposedFeatures,
  ResponseError,
  ShowMessageNotification,
  StreamMessageWriter,
  TextDocumentSyncKind,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import * as features from './features.js';
import { ResilientReader } from './framing.js';
import { Cancelled, SCAN_LIMITS, type ScanLimits } from './scan.js';
import { ContentModified, Workspace } from './workspace.js';

export const DEFAULT_DEBOUNCE_MS = 150;

export interface ServerOptions {
  /** Delay between the last edit and the re-check (overridable by the client's initializationOptions.debounceMs). */
  debounceMs?: number;
}

/** JSON-RPC over stdin/stdout with a reader that survives damaged frames (see framing.ts). */
function stdioConnection(): Connection {
  const writer = new StreamMessageWriter(process.stdout);
  const reader = new ResilientReader(process.stdin, (e) => {
    process.stderr.write(`netc lsp: ${e.message}\n`);
    void writer.write({ jsonrpc: '2.0', id: null, error: { code: e.code, message: e.message } } as never);
  });
  const connection = createConnection(ProposedFeatures.all, reader, writer);
  // What vscode-languageserver does for its own stdio transport: stdout carries only messages, and the
  // server ends with its client (status 0 after a shutdown request, 1 otherwise).
  for (const method of ['log', 'info', 'warn', 'debug'] as const) console[method] = (...args: unknown[]) => process.stderr.write(`${args.join(' ')}\n`);
  let shutdown = false;
  connection.onShutdown(() => {
    shutdown = true;
  });
  const end = () => process.exit(shutdown ? 0 : 1);
  process.stdin.on('end', end);
  process.stdin.on('close', end);
  return connection;
}

export function startServer(options: ServerOptions = {}, connection: Connection = stdioConnection()): Connection {
  const ws = new Workspace();
  const buffers = new Map<string, TextDocument>();
  const timers = new Map<string, NodeJS.Timeout>();
  let debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  let watchFiles = false;

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

  /**
   * Check `path` after `delay` ms, then schedule its open importers. Each check is a separate task, and
   * a newer request for the same document replaces a pending one: a burst of edits checks the last text
   * once, and the importers of a library being typed in are not re-checked for every keystroke.
   */
  const schedule = (path: string, delay: number) => {
    clearTimeout(timers.get(path));
    timers.set(
      path,
      setTimeout(() => {
        timers.delete(path);
        publish(path);
        for (const dependent of ws.dependents(path)) if (!timers.has(dependent)) schedule(dependent, 0);
      }, delay),
    );
  };

  // An imported file changed on disk without a watcher event: republish what now reads differently.
  ws.onStale = (p) => schedule(p, 0);

  connection.onInitialize((params) => {
    const init = params.initializationOptions as { debounceMs?: number; scanLimits?: Partial<ScanLimits> } | undefined;
    if (typeof init?.debounceMs === 'number' && init.debounceMs >= 0) debounceMs = init.debounceMs;
    // Tighter (or looser) workspace-scan bounds; numbers only, each replacing one of SCAN_LIMITS.
    for (const [key, value] of Object.entries(init?.scanLimits ?? {})) {
      if (key in SCAN_LIMITS && typeof value === 'number' && value >= 0) ws.scan.limits = { ...ws.scan.limits, [key]: value };
    }
    ws.roots = (params.workspaceFolders ?? []).map((f) => ws.pathOf(f.uri));
    if (!ws.roots.length && params.rootUri) ws.roots = [ws.pathOf(params.rootUri)];
    watchFiles = params.capabilities.workspace?.didChangeWatchedFiles?.dynamicRegistration === true;
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
        semanticTokensProvider: { legend: features.SEMANTIC_LEGEND, full: true },
      },
      serverInfo: { name: 'netc' },
    };
  });

  connection.onInitialized(() => {
    // Clients that register watchers themselves (the VS Code extension's fileEvents) send the events anyway.
    if (watchFiles) void connection.client.register(DidChangeWatchedFilesNotification.type, { watchers: [{ globPattern: '**/*.net' }] });
  });

  connection.onDidChangeWatchedFiles(({ changes }) => {
    const affected = new Set<string>();
    for (const change of changes) {
      for (const p of ws.changedOnDisk(ws.pathOf(change.uri), change.type !== FileChangeType.Changed)) affected.add(p);
    }
    for (const p of affected) schedule(p, 0);
  });

  connection.onDidOpenTextDocument(({ textDocument: t }) => {
    buffers.set(t.uri, TextDocument.create(t.uri, t.languageId, t.version, t.text));
    const doc = ws.open(t.uri, t.text, t.version);
    schedule(doc.path, 0);
  });

  connection.onDidChangeTextDocument(({ textDocument: t, contentChanges }) => {
    const previous = buffers.get(t.uri);
    if (!previous) return;
    const next = TextDocument.update(previous, contentChanges, t.version);
    buffers.set(t.uri, next);
    const doc = ws.open(t.uri, next.getText(), t.version);
    schedule(doc.path, debounceMs);
  });

  connection.onDidCloseTextDocument(({ textDocument: t }) => {
    const path = ws.pathOf(t.uri);
    const dependents = ws.dependents(path);
    clearTimeout(timers.get(path));
    timers.delete(path);
    buffers.delete(t.uri);
    ws.close(t.uri);
    void connection.sendDiagnostics({ uri: t.uri, diagnostics: [] });
    for (const d of dependents) schedule(d, 0);
  });

  /** A workspace request: a cancelled one answers RequestCancelled, a refused rename its reason. */
  const guarded = async <T>(work: () => Promise<T>): Promise<T | ResponseError<void>> => {
    try {
      return await work();
    } catch (e) {
      if (e instanceof Cancelled) return new ResponseError(LSPErrorCodes.RequestCancelled, 'cancelled');
      if (e instanceof ContentModified) return new ResponseError(LSPErrorCodes.ContentModified, e.message);
      if (e instanceof features.RenameRefused) return new ResponseError(ErrorCodes.InvalidRequest, e.message);
      throw e;
    }
  };

  const path = (uri: string) => ws.pathOf(uri);
  /**
   * A request the client cancelled while it waited behind a check (editors cancel hints and tokens on
   * each keystroke) is answered without the work, which could mean analysing a text already replaced.
   */
  const live =
    <P, R>(handler: (p: P) => R) =>
    (p: P, token: CancellationToken): R | ResponseError<void> =>
      token.isCancellationRequested ? new ResponseError(LSPErrorCodes.RequestCancelled, 'cancelled') : handler(p);
  connection.onHover(live((p) => features.hover(ws, path(p.textDocument.uri), p.position)));
  connection.onDefinition(live((p) => features.definition(ws, path(p.textDocument.uri), p.position)));
  connection.onDocumentSymbol(live((p) => features.documentSymbols(ws, path(p.textDocument.uri))));
  connection.onCompletion(live((p) => features.completion(ws, path(p.textDocument.uri), p.position)));
  connection.languages.inlayHint.on(live((p) => features.inlayHints(ws, path(p.textDocument.uri), p.range)));
  connection.languages.semanticTokens.on(live((p) => features.semanticTokens(ws, path(p.textDocument.uri))));

  // Partial results are still useful; say once per reason that they are partial.
  const warned = new Set<string>();
  const incomplete = (why: string) => {
    if (warned.has(why)) return;
    warned.add(why);
    void connection.sendNotification(ShowMessageNotification.type, {
      type: MessageType.Warning,
      message: `netc: find references searched only part of the workspace (${why}); the results may be incomplete.`,
    });
  };
  connection.onReferences((p, token) =>
    guarded(() => features.references(ws, path(p.textDocument.uri), p.position, p.context.includeDeclaration, token, incomplete)),
  );
  connection.onPrepareRename((p) => guarded(async () => features.prepareRename(ws, path(p.textDocument.uri), p.position)));
  connection.onRenameRequest((p, token) => guarded(() => features.rename(ws, path(p.textDocument.uri), p.position, p.newName, token)));

  connection.listen();
  return connection;
}
