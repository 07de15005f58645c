// A minimal LSP client over a child process's stdio: what an editor does, without an editor.
// Shared by test/lsp/*.test.ts and bench/lsp-latency.mjs.
import { spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const uri = (path) => pathToFileURL(path).href;

export class LspClient {
  /** @param {string[]} extraArgs */
  constructor(extraArgs = []) {
    this.child = spawn(process.execPath, [`${ROOT}/bin/netc.js`, 'lsp', '--stdio', ...extraArgs], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    this.nextId = 1;
    this.pending = new Map();
    this.notifications = [];
    this.frameErrors = [];
    this.waiters = [];
    this.stderr = '';
    this.buffer = Buffer.alloc(0);
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
    this.child.stderr.on('data', (d) => (this.stderr += d));
    this.child.stdout.on('data', (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      for (;;) {
        const headerEnd = this.buffer.indexOf('\r\n\r\n');
        if (headerEnd < 0) return;
        const length = Number(/Content-Length: (\d+)/i.exec(this.buffer.subarray(0, headerEnd).toString())[1]);
        if (this.buffer.length < headerEnd + 4 + length) return;
        const body = JSON.parse(this.buffer.subarray(headerEnd + 4, headerEnd + 4 + length).toString('utf8'));
        this.buffer = this.buffer.subarray(headerEnd + 4 + length);
        this.receive(body);
      }
    });
  }

  receive(message) {
    if (message.id === null && message.error) {
      // An answer to a message the server could not read (a damaged frame).
      this.frameErrors.push(message.error);
      for (const w of [...this.waiters]) if (w.predicate(message)) this.waiters.splice(this.waiters.indexOf(w), 1) && w.resolve(message);
      return;
    }
    if (message.id !== undefined && message.method === undefined) {
      const p = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.error) p?.reject(Object.assign(new Error(message.error.message), { code: message.error.code }));
      else p?.resolve(message.result);
      return;
    }
    if (message.id !== undefined) {
      // A request from the server (e.g. client/registerCapability): answer it.
      this.send({ jsonrpc: '2.0', id: message.id, result: null });
      return;
    }
    this.notifications.push(message);
    for (const w of [...this.waiters]) {
      if (w.predicate(message)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(message);
      }
    }
  }

  send(message) {
    const json = JSON.stringify(message);
    this.child.stdin.write(`Content-Length: ${Buffer.byteLength(json, 'utf8')}\r\n\r\n${json}`);
  }

  /** Bytes as they are, for damaged frames. */
  raw(text) {
    this.child.stdin.write(text);
  }

  request(method, params) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({ jsonrpc: '2.0', id, method, params });
    });
  }

  notify(method, params) {
    this.send({ jsonrpc: '2.0', method, params });
  }

  /** The next notification matching `predicate` that arrives from now on. */
  next(predicate, timeoutMs = 20000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching notification within ${timeoutMs} ms; stderr: ${this.stderr}`)), timeoutMs);
      this.waiters.push({
        predicate,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  /** The next publishDiagnostics for `docUri` (optionally for a given document version). */
  nextDiagnostics(docUri, version) {
    return this.next(
      (m) => m.method === 'textDocument/publishDiagnostics' && m.params.uri === docUri && (version === undefined || m.params.version === version),
    ).then((m) => m.params);
  }

  async initialize(initializationOptions = {}, rootPath = ROOT, capabilities = {}) {
    const result = await this.request('initialize', {
      processId: process.pid,
      rootUri: uri(rootPath),
      capabilities,
      initializationOptions,
      workspaceFolders: [{ uri: uri(rootPath), name: 'root' }],
    });
    this.notify('initialized', {});
    return result;
  }

  open(path, text, version = 1) {
    this.notify('textDocument/didOpen', { textDocument: { uri: uri(path), languageId: 'netc', version, text } });
  }

  change(path, version, text) {
    this.notify('textDocument/didChange', { textDocument: { uri: uri(path), version }, contentChanges: [{ text }] });
  }

  async shutdown() {
    await this.request('shutdown', null);
    this.notify('exit', null);
    return this.exited;
  }

  kill() {
    if (this.child.exitCode === null) this.child.kill();
  }
}
