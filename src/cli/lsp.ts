import type { Command } from 'commander';
import { UsageError } from './io.js';

export function registerLsp(program: Command): void {
  program
    .command('lsp')
    .description('run the language server (Language Server Protocol over stdio) for editors')
    .option('--stdio', 'talk JSON-RPC over stdin/stdout (the default and only transport)')
    .option('--debounce <ms>', 'wait this long after the last edit before re-checking', '150')
    .addHelpText(
      'after',
      `
The server publishes diagnostics for the editor's buffer text (not the file on disk) on open and,
debounced, on change; a change re-checks that file and the open files that import it.

Features: diagnostics, hover (output shape, params and MACs of a layer or block use; signature and
doc comment of a definition), inlay hints (the output shape at the end of each line), go to definition,
find references, rename (blocks, defs, parameters), document symbols, completion (layers, blocks,
parameter names, stdlib modules inside \`use "..."\`).

Editors start it as \`netc lsp --stdio\`. Setup for VS Code, Neovim and Helix: docs/editors.md.
Clients may set initializationOptions.debounceMs to override --debounce.

Examples:
  netc lsp --stdio
  netc lsp --stdio --debounce 50`,
    )
    .action(async (options: { stdio?: boolean; debounce: string }) => {
      const debounceMs = Number(options.debounce);
      if (!Number.isFinite(debounceMs) || debounceMs < 0)
        throw new UsageError(`--debounce must be a non-negative number of milliseconds, got "${options.debounce}"`);
      // Editors pass --stdio; vscode-languageserver reads the transport from argv.
      if (!process.argv.includes('--stdio')) process.argv.push('--stdio');
      const { startServer } = await import('../lsp/server.js');
      startServer({ debounceMs });
    });
}
