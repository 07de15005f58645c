/** Open documents, their analyses, who imports whom, and the workspace's other .net files. */
import { statSync } from 'node:fs';
import { basename, join, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import { lspRange, toLsp, type LspDiagnostic, type LspRange } from '../diagnostics/render.js';
import type { Span } from '../ir/types.js';
import { MAX_RENDERED_DIAGNOSTICS } from '../check/limits.js';
import { type LoadedFile, resolveUse, STDLIB_DIR } from '../bind/program.js';
import { analyze, type Analysis, type Occurrence, occurrencesOf, type Target, sameTarget } from './analysis.js';
import { instancesIn, type Instance } from './ir-info.js';
import { type Token, WorkspaceScan } from './scan.js';

export interface OpenDocument {
  uri: string;
  path: string;
  text: string;
  version: number;
}

function diskSignature(path: string): string {
  try {
    const s = statSync(path);
    return `${s.mtimeMs}:${s.size}`;
  } catch {
    return 'missing';
  }
}

/**
 * Diagnostics published per document; the rest are summed up in one more. The front end already keeps
 * at most this many (the last one, NET1011, counting what it dropped), so this only bites when
 * an analysis somehow holds more.
 */
export const MAX_PUBLISHED = MAX_RENDERED_DIAGNOSTICS;

/** Whether `path` lies in (or is) the folder `dir`. */
export function inside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

/** The documents changed while a request was being answered (LSP's ContentModified: the client asks again). */
export class ContentModified extends Error {
  constructor() {
    super('the documents changed while the workspace was being scanned');
  }
}

export class Workspace {
  readonly documents = new Map<string, OpenDocument>();
  readonly analyses = new Map<string, Analysis>();
  /** The files each open document's latest analysis read (kept when the analysis itself is dropped). */
  private readonly reads = new Map<string, Set<string>>();
  readonly scan = new WorkspaceScan();
  private readonly diskSignatures = new WeakMap<Analysis, [string, string][]>();
  /** Called when an open document's analysis was redone because a file it read changed on disk. */
  onStale: (path: string) => void = () => {};
  private readonly instanceCache = new Map<string, { sources: Analysis[]; list: Instance[] }>();

  get roots(): string[] {
    return this.scan.roots;
  }

  set roots(roots: string[]) {
    this.scan.roots = roots;
    this.scan.invalidateList();
  }

  /**
   * The path a document is checked under. A `file:` URI is its file. Any other (an `untitled:` buffer)
   * gets a stable made-up file in the first workspace folder: the front end resolves paths, so the
   * diagnostics it reports come back under this same key, and `use "./x"` looks beside the project.
   */
  pathOf(uri: string): string {
    if (uri.startsWith('file:')) {
      try {
        return fileURLToPath(uri);
      } catch {
        // A file URI with a host: not a local file; treat it as a buffer.
      }
    }
    return join(this.roots[0] ?? process.cwd(), encodeURIComponent(uri));
  }

  open(uri: string, text: string, version: number): OpenDocument {
    const doc = { uri, path: this.pathOf(uri), text, version };
    this.documents.set(doc.path, doc);
    this.invalidate(doc.path);
    return doc;
  }

  close(uri: string): void {
    const path = this.pathOf(uri);
    this.documents.delete(path);
    this.invalidate(path);
    this.reads.delete(path);
    this.instanceCache.delete(path);
    // Its buffer was served to the scan's cached files instead of the disk.
    this.scan.forget(path);
  }

  /** Forget the analyses that read `path`: its own and its importers' (they are redone when next needed). */
  private invalidate(path: string): void {
    this.analyses.delete(path);
    for (const p of this.dependents(path)) this.analyses.delete(p);
  }

  /**
   * A file changed, appeared or vanished on disk (the client's file watcher). Returns the open documents
   * whose diagnostics may have changed; an open file's own buffer is unaffected.
   */
  changedOnDisk(path: string, created: boolean): string[] {
    if (created) this.scan.invalidateList();
    this.scan.forget(path);
    if (this.documents.has(path)) return [];
    const dependents = this.dependents(path);
    for (const p of dependents) this.analyses.delete(p);
    return dependents;
  }

  /**
   * The installed library: stdlib/ of this netc, unless a workspace folder holds it (then it is the
   * user's own source, e.g. netc's repository, and may be edited like any other file). A netc installed
   * by npm (under node_modules/) is never the user's source, whatever folder is open.
   */
  isInstalledLibrary(path: string): boolean {
    if (!inside(path, STDLIB_DIR)) return false;
    return STDLIB_DIR.split(sep).includes('node_modules') || !this.roots.some((r) => inside(STDLIB_DIR, r));
  }

  uriOf(path: string): string {
    return this.documents.get(path)?.uri ?? pathToFileURL(path).href;
  }

  readonly readFile = (path: string): string | undefined => this.documents.get(path)?.text;

  /** The analysis of an open document, recomputed when its text changed since. */
  analysis(path: string): Analysis | undefined {
    const doc = this.documents.get(path);
    if (!doc) return undefined;
    const cached = this.analyses.get(path);
    const current = cached && cached.version === doc.version && cached.text === doc.text;
    if (current && this.unchangedOnDisk(cached)) return cached;
    const fresh = analyze(path, doc.text, doc.version, this.readFile);
    this.analyses.set(path, fresh);
    this.reads.set(path, new Set(fresh.files.keys()));
    this.diskSignatures.set(
      fresh,
      [...fresh.files.keys()].filter((p) => !this.documents.has(p)).map((p) => [p, diskSignature(p)]),
    );
    if (current) this.onStale(path);
    return fresh;
  }

  /**
   * Whether the files an analysis read from disk are as they were. Clients without file watching (Neovim
   * before 0.9) send no events when an imported file changes; a few stat calls per request notice it.
   */
  private unchangedOnDisk(analysis: Analysis): boolean {
    return (this.diskSignatures.get(analysis) ?? []).every(([p, signature]) => this.documents.has(p) || diskSignature(p) === signature);
  }

  /** Open documents whose last analysis read `path` (they import it, directly or not). */
  dependents(path: string): string[] {
    return [...this.reads].filter(([p, files]) => p !== path && files.has(path) && this.documents.has(p)).map(([p]) => p);
  }

  /** Analyses whose graphs tell about `path`: its own if it has nets, else those of open files that import it. */
  graphSources(path: string): Analysis[] {
    const own = this.analysis(path);
    if (own?.result.graphs.length) return [own];
    return this.dependents(path)
      .map((p) => this.analysis(p)!)
      .filter((a) => a.result.graphs.length);
  }

  /** Instances built from `path`'s source, kept while the analyses they come from are current. */
  instances(path: string): Instance[] {
    const sources = this.graphSources(path);
    const cached = this.instanceCache.get(path);
    if (cached && cached.sources.length === sources.length && cached.sources.every((a, i) => a === sources[i])) return cached.list;
    const list = instancesIn(sources, path);
    this.instanceCache.set(path, { sources, list });
    return list;
  }

  /** LSP diagnostics for an open document; mistakes found in imported files are shown where this file reaches them. */
  diagnostics(path: string): LspDiagnostic[] {
    const analysis = this.analysis(path);
    if (!analysis) return [];
    const sources = analysis.result.program.sources;
    const out: LspDiagnostic[] = [];
    const all = analysis.result.diagnostics;
    for (let i = 0; i < all.length; i++) {
      const d = all[i]!;
      if (out.length === MAX_PUBLISHED) {
        // The rest are counted, not converted: a file of garbage can hold a diagnostic every few bytes.
        const rest = all.length - i;
        const last = out[out.length - 1]!;
        const message = `${rest.toLocaleString('en-US')} more problem${rest === 1 ? '' : 's'} after this one not shown: the editor gets the first ${MAX_PUBLISHED.toLocaleString('en-US')} of a file`;
        out.push({ ...last, severity: 3, message, relatedInformation: [], data: { title: 'more problems', notes: [], rendered: message } });
        break;
      }
      if (d.span.file === path) {
        out.push(this.withUris(d, toLsp(d, sources)));
        continue;
      }
      const site = d.related.find((r) => r.span.file === path)?.span ?? this.importSite(analysis, d.span.file);
      if (!site) continue;
      const moved: Diagnostic = {
        ...d,
        span: site,
        message: `${d.message} (in ${basename(d.span.file)})`,
        related: [{ span: d.span, label: d.label ?? d.message }, ...d.related.filter((r) => r.span !== site)],
      };
      out.push(this.withUris(moved, toLsp(moved, sources)));
    }
    return out;
  }

  /** LSP diagnostics whose related locations name open buffers by their URIs (an untitled buffer has no file URL). */
  private withUris(d: Diagnostic, lsp: LspDiagnostic): LspDiagnostic {
    lsp.relatedInformation?.forEach((r, i) => (r.location.uri = this.uriOf(d.related[i]!.span.file)));
    return lsp;
  }

  /** The `use` in the entry through which `target` was loaded (directly or through other imports). */
  private importSite(analysis: Analysis, target: string): Span | undefined {
    for (const item of analysis.entry.ast.items) {
      if (item.kind !== 'use') continue;
      const seen = new Set<string>();
      const stack = [resolveUse(item.target, analysis.path)];
      while (stack.length) {
        const p = stack.pop()!;
        if (p === target) return { file: analysis.path, ...item.targetRange };
        if (seen.has(p)) continue;
        seen.add(p);
        for (const u of analysis.files.get(p)?.ast.items ?? []) if (u.kind === 'use') stack.push(resolveUse(u.target, p));
      }
    }
    return undefined;
  }

  /**
   * Every occurrence of `target` in open documents, the files they load, and the workspace's .net files
   * (a bounded, cancellable scan; `incomplete` says why it stopped short).
   */
  async references(target: Target, token: Token): Promise<{ found: { occurrence: Occurrence; range: LspRange }[]; incomplete?: string }> {
    const owners = new Map<string, { file: LoadedFile; sources: Map<string, string> }>();
    for (const path of this.documents.keys()) {
      const analysis = this.analysis(path)!;
      owners.set(path, { file: analysis.entry, sources: analysis.result.program.sources });
    }
    for (const path of this.documents.keys()) {
      const analysis = this.analysis(path)!;
      for (const [p, file] of analysis.files) if (!owners.has(p)) owners.set(p, { file, sources: analysis.result.program.sources });
    }
    const versions = [...this.documents.values()].map((d) => d.version);
    const scanned = await this.scan.scan(
      token,
      (p) => owners.has(p),
      (p) => this.versionOf(p),
      this.readFile,
    );
    // The scan yielded to other messages: if a buffer changed meanwhile, the ranges found may be stale.
    const now = [...this.documents.values()].map((d) => d.version);
    if (now.length !== versions.length || now.some((v, i) => v !== versions[i])) throw new ContentModified();
    const found: { occurrence: Occurrence; range: LspRange }[] = [];
    const add = (path: string, file: LoadedFile, sources: Map<string, string>) => {
      for (const o of occurrencesOf(file)) {
        if (sameTarget(o.target, target)) found.push({ occurrence: o, range: lspRange({ file: path, ...o.range }, sources) });
      }
    };
    for (const [path, { file, sources }] of owners) add(path, file, sources);
    for (const [path, file] of scanned.files) if (!owners.has(path)) add(path, file, new Map([[path, file.ast.text ?? '']]));
    return { found, incomplete: scanned.incomplete };
  }

  private versionOf(path: string): string | undefined {
    const doc = this.documents.get(path);
    return doc ? `open:${doc.version}:${doc.text.length}` : undefined;
  }
}
