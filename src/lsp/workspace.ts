/** Open documents, their analyses, who imports whom, and the workspace's other .net files. */
import { type Dirent, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import { lspRange, toLsp, type LspDiagnostic, type LspRange } from '../diagnostics/render.js';
import type { Span } from '../ir/types.js';
import { resolveUse } from '../bind/program.js';
import { analyze, type Analysis, type Occurrence, type Target, sameTarget } from './analysis.js';
import { instancesIn, type Instance } from './ir-info.js';

export interface OpenDocument {
  uri: string;
  path: string;
  text: string;
  version: number;
}

const MAX_WORKSPACE_FILES = 500;

export function uriToPath(uri: string): string {
  return uri.startsWith('file:') ? fileURLToPath(uri) : uri;
}

export class Workspace {
  readonly documents = new Map<string, OpenDocument>();
  readonly analyses = new Map<string, Analysis>();
  /** The files each open document's latest analysis read (kept when the analysis itself is dropped). */
  private readonly reads = new Map<string, Set<string>>();
  roots: string[] = [];

  open(uri: string, text: string, version: number): OpenDocument {
    const doc = { uri, path: uriToPath(uri), text, version };
    this.documents.set(doc.path, doc);
    this.invalidate(doc.path);
    return doc;
  }

  close(uri: string): void {
    const path = uriToPath(uri);
    this.documents.delete(path);
    this.invalidate(path);
    this.reads.delete(path);
  }

  /** Forget the analyses that read `path`: its own and its importers' (they are redone when next needed). */
  private invalidate(path: string): void {
    this.analyses.delete(path);
    for (const p of this.dependents(path)) this.analyses.delete(p);
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
    if (cached && cached.version === doc.version && cached.text === doc.text) return cached;
    const fresh = analyze(path, doc.text, doc.version, this.readFile);
    this.analyses.set(path, fresh);
    this.reads.set(path, new Set(fresh.files.keys()));
    return fresh;
  }

  /** Open documents whose last analysis read `path` (they import it, directly or not). */
  dependents(path: string): string[] {
    return [...this.reads].filter(([p, files]) => p !== path && files.has(path) && this.documents.has(p)).map(([p]) => p);
  }

  /** Analyses whose graphs tell about `path`: its own if it has nets, else those of open files that import it. */
  graphSources(path: string): Analysis[] {
    const own = this.analysis(path);
    if (own && own.result.graphs.length) return [own];
    return this.dependents(path).map((p) => this.analysis(p)!).filter((a) => a.result.graphs.length);
  }

  instances(path: string): Instance[] {
    return instancesIn(this.graphSources(path), path);
  }

  /** LSP diagnostics for an open document; mistakes found in imported files are shown where this file reaches them. */
  diagnostics(path: string): LspDiagnostic[] {
    const analysis = this.analysis(path);
    if (!analysis) return [];
    const sources = analysis.result.program.sources;
    const out: LspDiagnostic[] = [];
    for (const d of analysis.result.diagnostics) {
      if (d.span.file === path) {
        out.push(toLsp(d, sources));
        continue;
      }
      const site = d.related.find((r) => r.span.file === path)?.span ?? this.importSite(analysis, d.span.file);
      if (!site) continue;
      const moved: Diagnostic = {
        ...d, span: site, message: `${d.message} (in ${basename(d.span.file)})`,
        related: [{ span: d.span, label: d.label ?? d.message }, ...d.related.filter((r) => r.span !== site)],
      };
      out.push(toLsp(moved, sources));
    }
    return out;
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

  /** Every occurrence of `target` in open documents, the files they load, and the workspace's .net files. */
  references(target: Target): { occurrence: Occurrence; range: LspRange }[] {
    const out: { occurrence: Occurrence; range: LspRange }[] = [];
    for (const [path, analysis] of this.fileOwners()) {
      const sources = analysis.result.program.sources;
      for (const o of analysis.occurrencesIn(path)) {
        if (sameTarget(o.target, target)) out.push({ occurrence: o, range: lspRange({ file: path, ...o.range }, sources) });
      }
    }
    return out;
  }

  /** For each known file, the analysis to read it from (an open file's own analysis first). */
  private fileOwners(): Map<string, Analysis> {
    const owners = new Map<string, Analysis>();
    for (const path of this.documents.keys()) owners.set(path, this.analysis(path)!);
    for (const analysis of [...owners.values()]) for (const p of analysis.files.keys()) if (!owners.has(p)) owners.set(p, analysis);
    for (const path of this.workspaceFiles()) {
      if (owners.has(path)) continue;
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        continue;
      }
      const analysis = analyze(path, text, -1, this.readFile);
      for (const p of analysis.files.keys()) if (!owners.has(p)) owners.set(p, analysis);
    }
    return owners;
  }

  private workspaceFiles(): string[] {
    const found: string[] = [];
    const walk = (dir: string, depth: number) => {
      if (depth > 8 || found.length >= MAX_WORKSPACE_FILES) return;
      let entries: Dirent[];
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const entry of entries) {
        if (entry.name.startsWith('.') || entry.name === 'node_modules' || entry.name === 'dist') continue;
        const full = join(dir, entry.name);
        if (entry.isFile() && entry.name.endsWith('.net')) found.push(full);
        else if (entry.isDirectory()) walk(full, depth + 1);
      }
    };
    for (const root of this.roots) walk(root, 0);
    return found;
  }
}
