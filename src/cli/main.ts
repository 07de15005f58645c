import { readFileSync } from 'node:fs';
import { Command, CommanderError, type Option } from 'commander';
import { CATALOG, explain } from '../diagnostics/catalog.js';
import { OPS } from '../ops/index.js';
import { registerCheck } from './check.js';
import { UserError } from '../diagnostics/user-error.js';
import { EXIT_DIAGNOSTICS, EXIT_OK, EXIT_USAGE, reportFailure, setJsonFailures, UsageError, wantsJson } from './io.js';
import { registerNets } from './nets.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

function build(json: boolean): Command {
  const program = new Command('netc')
    .description('A compiler for neural-network architectures: every shape checked, every parameter counted, then trained.')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    // Set before any subcommand exists: subcommands copy these settings when they are created.
    .exitOverride()
    // With --format json, commander's own complaints (unknown option, bad choice) become main()'s JSON error.
    .configureOutput({ writeErr: (s) => (json ? undefined : process.stderr.write(s)), writeOut: (s) => process.stdout.write(s) })
    .configureHelp({ optionDescription })
    .addHelpText(
      'after',
      `
Examples:
  netc check resnet34                                 # shapes + torchsummary table of a stdlib net
  netc nets                                           # the standard library's nets
  netc check my.net --format json                     # diagnostics and summary for editors/scripts
  netc train stdlib/lenet5.net --data fashion-mnist   # train with TensorFlow.js
  netc explain NET2001                                # what a diagnostic means

A .net file, in one line:
  block Basic(c)< conv3x3 c; bn; relu; conv3x3 c; bn > + shortcut

Docs: README.md, grammar/net.ebnf (the language), docs/diagnostics.md (every code), docs/editors.md (netc lsp).`,
    );
  registerCheck(program);
  registerNets(program);
  program
    .command('explain')
    .description('print the long explanation of a diagnostic code')
    .argument('[code]', 'a code such as NET2001; omit to list all codes')
    .action((code: string | undefined) => {
      if (!code) {
        for (const [c, info] of Object.entries(CATALOG)) process.stdout.write(`${c}  ${info.title}\n`);
        return;
      }
      const text = explain(code);
      if (!text) throw new UsageError(`unknown code "${code}"; \`netc explain\` lists them all`);
      process.stdout.write(text);
    });
  program
    .command('ops')
    .description('list the built-in operations with their parameters')
    .action(() => {
      for (const op of OPS.filter((o) => !o.internal)) {
        const params = op.params.map((p) => {
          const d = p.default === undefined ? '' : typeof p.default === 'function' ? '=<derived>' : `=${String(p.default)}`;
          return p.positional ? `${p.name}${d}` : `${p.name}${d || '=?'}`;
        });
        process.stdout.write(`${op.name.padEnd(18)}${params.join(' ').padEnd(58)}${op.summary}\n`);
      }
    });
  return program;
}

/**
 * Commands with heavy dependencies (TensorFlow.js, the language server) live in their own modules,
 * loaded only when that command (or the help that lists it) is asked for, so `check` starts fast.
 */
const OPTIONAL_COMMANDS: Record<string, { module: string; register: string }> = {
  train: { module: './train.js', register: 'registerTrain' },
  lsp: { module: './lsp.js', register: 'registerLsp' },
  export: { module: './export.js', register: 'registerExport' },
  eval: { module: './evaluate.js', register: 'registerEval' },
  predict: { module: './predict.js', register: 'registerPredict' },
  cam: { module: './cam.js', register: 'registerCam' },
  verify: { module: './verify.js', register: 'registerVerify' },
};

async function registerOptional(program: Command, argv: string[]): Promise<void> {
  const wantsHelp = argv.length === 0 || argv.includes('--help') || argv.includes('-h') || argv[0] === 'help';
  for (const [name, { module, register }] of Object.entries(OPTIONAL_COMMANDS)) {
    if (!wantsHelp && argv[0] !== name) continue;
    try {
      const loaded = (await import(module)) as Record<string, (program: Command) => void>;
      loaded[register]?.(program);
    } catch (e) {
      // Listing commands for help must not fail because one command's module cannot load; running
      // that command must say why.
      if (argv[0] === name) throw e;
      process.stderr.write(`netc: the \`${name}\` command is unavailable: ${(e as Error).message.split('\n')[0]}\n`);
    }
  }
}

/**
 * Every help shows defaults and choices the same way, unquoted (`default: human`, `default: 64`);
 * commander quotes strings and not numbers, and an empty list default (`--set`) says nothing.
 */
function optionDescription(option: Option): string {
  const extra: string[] = [];
  if (option.argChoices) extra.push(`choices: ${option.argChoices.join(', ')}`);
  const d: unknown = option.defaultValue;
  const shown = option.required || option.optional || (option.isBoolean() && typeof d === 'boolean' && !option.negate);
  if (d !== undefined && shown && !(Array.isArray(d) && d.length === 0)) extra.push(`default: ${option.defaultValueDescription ?? String(d)}`);
  return extra.length ? `${option.description} (${extra.join('; ')})` : option.description;
}

/** Runs the CLI; returns the exit code. User mistakes never produce a stack trace. */
export async function main(argv: string[]): Promise<number> {
  const json = wantsJson(argv);
  setJsonFailures(json);
  const program = build(json);
  await registerOptional(program, argv);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT_OK;
      if (json) reportFailure(e.message.replace(/^error: /, ''), EXIT_USAGE);
      return EXIT_USAGE;
    }
    // Every user-facing failure (usage, data, run directory, backend, training, export) lands here once.
    if (e instanceof UserError) return reportFailure(e.message, e.exitCode);
    return reportFailure(`internal error (this is a bug in netc, not in your file): ${(e as Error).stack ?? e}`, EXIT_DIAGNOSTICS + 2, 'internal');
  }
}
