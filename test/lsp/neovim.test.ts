// The Neovim recipe of docs/editors.md, run verbatim in headless Neovim (Debian stable's 0.7.2 in CI)
// against `netc lsp`: open a file with a mistake and check the diagnostics Neovim itself received.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');

function nvimVersion(): string | undefined {
  try {
    return execFileSync('nvim', ['--version'], { encoding: 'utf8' }).split('\n')[0];
  } catch {
    return undefined;
  }
}

const version = nvimVersion();

/** The Lua block that follows the `neovim-recipe` marker in docs/editors.md. */
function recipe(): string {
  const doc = readFileSync(join(ROOT, 'docs/editors.md'), 'utf8');
  const marker = doc.indexOf('<!-- neovim-recipe');
  const start = doc.indexOf('```lua\n', marker) + '```lua\n'.length;
  return doc.slice(start, doc.indexOf('```', start));
}

const MODEL = `net small : [3, 32, 32] <
  conv 8 k=3; rleu
  gap
>
`;

let dir: string | undefined;
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!version)(`Neovim (${version ?? 'skipped: nvim is not installed; apt-get install neovim'})`, () => {
  it('the docs/editors.md recipe attaches `netc lsp` to a .net buffer and Neovim receives its diagnostics', () => {
    if (!existsSync(join(ROOT, 'dist/lsp/server.js'))) execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', ROOT]);
    dir = mkdtempSync(join(tmpdir(), 'netc-nvim-'));
    const project = join(dir, 'project');
    mkdirSync(join(project, '.git'), { recursive: true });
    mkdirSync(join(project, 'sub'));
    const file = join(project, 'sub', 'model.net');
    writeFileSync(file, MODEL);
    // `netc` on PATH, as after `npm install -g`: the recipe's cmd is used as written.
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'netc'), `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, 'bin/netc.js')}" "$@"\n`);
    chmodSync(join(bin, 'netc'), 0o755);
    const out = join(dir, 'out.json');
    const init = join(dir, 'init.lua');
    writeFileSync(
      init,
      `${recipe()}
vim.api.nvim_create_autocmd('VimEnter', { callback = function()
  local buf = vim.api.nvim_get_current_buf()
  local ok = vim.wait(30000, function() return #vim.diagnostic.get(buf) > 0 end, 50)
  local clients = {}
  for _, c in pairs(vim.lsp.buf_get_clients(buf)) do table.insert(clients, { name = c.name, root = c.config.root_dir }) end
  vim.fn.writefile({ vim.fn.json_encode({ filetype = vim.bo[buf].filetype, ok = ok, clients = clients, diagnostics = vim.diagnostic.get(buf) }) }, ${JSON.stringify(out)})
  vim.cmd('qa!')
end })
`,
    );
    const home = join(dir, 'home');
    const run = spawnSync('nvim', ['--headless', '-n', '-i', 'NONE', '-u', init, file], {
      cwd: project,
      encoding: 'utf8',
      timeout: 60_000,
      env: {
        ...process.env,
        PATH: `${bin}:${process.env.PATH}`,
        HOME: home,
        XDG_CONFIG_HOME: join(home, 'config'),
        XDG_DATA_HOME: join(home, 'data'),
        XDG_STATE_HOME: join(home, 'state'),
      },
    });
    expect(existsSync(out), `nvim wrote no result (status ${run.status}): ${run.stderr}${run.stdout}`).toBe(true);
    const result = JSON.parse(readFileSync(out, 'utf8'));
    expect(result.filetype).toBe('netc');
    expect(result.clients).toEqual([{ name: 'netc', root: project }]);
    expect(result.ok).toBe(true);
    const [d] = result.diagnostics;
    expect(result.diagnostics).toHaveLength(1);
    expect(d.message).toContain('rleu');
    expect(d.code ?? d.user_data?.lsp?.code).toBe('NET1001');
    expect([d.lnum, d.col, d.end_col, d.severity]).toEqual([1, 14, 18, 1]);
  }, 90_000);
});
