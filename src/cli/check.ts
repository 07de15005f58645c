import { type Command, Option } from 'commander';
import { compileFile } from '../api.js';
import { summarize, type CountMode, type Summary } from '../check/summary.js';
import { COLUMNS, renderTable, type Column } from '../check/table.js';
import { diagnosticsDocument, renderAll } from '../diagnostics/render.js';
import { writeJson } from './json.js';
import { netFileArgument } from './netfile.js';
import { colorEnabled, EXIT_DIAGNOSTICS, EXIT_OK, parseAssignments, parseShape, UsageError } from './io.js';

interface CheckOptions {
  format: 'human' | 'json';
  emit?: 'ir' | 'summary';
  set: string[];
  input?: string;
  net?: string;
  columns?: string;
  depth?: string;
  count: CountMode;
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    // Settings are copied to a subcommand when it is created, before main() calls exitOverride() on the
    // program: without its own override, a bad option value (`--format xml`) made commander call
    // process.exit(1), an exit status that means "errors in the file", not "bad invocation" (2).
    .exitOverride()
    .description('parse, elaborate and shape-check a .net file; print a torchsummary-style table per net')
    .argument('<file>', 'a .net file (a net, or a library of blocks), or a standard-library net by name (resnet34)')
    .addOption(
      new Option('--format <format>', 'human: table + rustc-style diagnostics; json: one document on stdout').choices(['human', 'json']).default('human'),
    )
    .addOption(new Option('--emit <what>', 'print the typed IR (JSON) instead of the summary').choices(['ir', 'summary']))
    .option('--set <name=value...>', 'override net parameters, e.g. --set classes=10', [])
    .option('--input <shape>', 'override the input shape, e.g. 3x32x32')
    .option('--net <name>', 'check only this net of the file')
    .option('--columns <list>', `extra columns, comma-separated: ${Object.keys(COLUMNS).join(', ')}`)
    .option('--depth <n>', 'fold blocks nested deeper than n (a folded block shows the params inside it)')
    .addOption(
      new Option('--count <mode>', "torch: torchsummary's count (BN = 2 per channel); tfjs: BN running statistics count as non-trainable")
        .choices(['torch', 'tfjs'])
        .default('torch'),
    )
    .addHelpText(
      'after',
      `
Examples:
  netc check resnet34                          # a standard-library net, from any directory (\`netc nets\`)
  netc check stdlib/resnet34.net --set classes=10 --input 3x32x32 --columns macs,rf
  netc check stdlib/densenet121.net --depth 1
  netc check model.net --format json        # for editors and scripts (specs/summary.schema.json)
  netc check model.net --emit ir            # the typed IR (specs/ir.schema.json)

Exit status: 0 no errors (warnings allowed), 1 errors in the file, 2 bad invocation.`,
    )
    .action((file: string, options: CheckOptions) => {
      process.exitCode = runCheck(file, options);
    });
}

function runCheck(file: string, options: CheckOptions): number {
  const path = netFileArgument(file);
  const columns = (options.columns ?? '')
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  for (const c of columns) if (!(c in COLUMNS)) throw new UsageError(`unknown column "${c}"; choose from ${Object.keys(COLUMNS).join(', ')}`);
  const depth = options.depth === undefined ? undefined : Number(options.depth);
  if (depth !== undefined && (!Number.isInteger(depth) || depth < 1)) throw new UsageError(`--depth must be a positive integer, got "${options.depth}"`);

  const result = compileFile(path, {
    args: parseAssignments(options.set),
    input: options.input ? parseShape(options.input) : undefined,
    net: options.net,
  });
  const sources = result.program.sources;
  const hasErrors = result.diagnostics.some((d) => d.severity === 'error');
  const summaries = hasErrors ? [] : result.graphs.map((g) => summarize(g, options.count));
  const checkedFiles = [...result.program.files.keys()].filter((f) => !f.endsWith('/stdlib/prelude.net') || f === path);

  if (options.format === 'json') {
    const diagnostics = diagnosticsDocument(result.diagnostics, sources, checkedFiles);
    const doc = options.emit === 'ir' ? { file: path, graphs: hasErrors ? [] : result.graphs, diagnostics } : summaryDocument(path, summaries, diagnostics);
    writeJson(doc, (chunk) => process.stdout.write(chunk));
    return hasErrors ? EXIT_DIAGNOSTICS : EXIT_OK;
  }

  const color = colorEnabled(process.stderr);
  process.stderr.write(renderAll(result.diagnostics, sources, { color }));
  if (hasErrors) return EXIT_DIAGNOSTICS;
  if (options.emit === 'ir') {
    writeJson(result.graphs.length === 1 ? result.graphs[0] : result.graphs, (chunk) => process.stdout.write(chunk));
    return EXIT_OK;
  }
  if (summaries.length === 0) {
    const defs = [...result.program.entry.own.values()];
    process.stdout.write(
      `${file}: no net; ${defs.length} definition${defs.length === 1 ? '' : 's'} checked (${defs.map((d) => `${d.kind} ${d.name}`).join(', ') || 'none'})\n`,
    );
    return EXIT_OK;
  }
  for (const s of summaries) {
    if (summaries.length > 1) process.stdout.write(`\nnet ${s.net}\n`);
    // torchsummary's table exactly; totals of MACs come with `--columns macs`.
    process.stdout.write(renderTable(s, { columns: columns as Column[], depth }));
  }
  return EXIT_OK;
}

function summaryDocument(file: string, summaries: Summary[], diagnostics: ReturnType<typeof diagnosticsDocument>) {
  const nets = summaries.map((s) => ({
    net: s.net,
    args: s.args,
    input: s.input,
    totalParams: s.totalParams,
    trainableParams: s.trainableParams,
    nonTrainableParams: s.nonTrainableParams,
    macs: s.macs,
    countMode: s.countMode,
    memory: { inputMB: s.inputSizeMB, forwardBackwardMB: s.forwardBackwardMB, paramsMB: s.paramsMB, totalMB: s.totalSizeMB },
    layers: s.rows.map((r) => ({
      row: r.row,
      name: r.name,
      type: r.type,
      kind: r.kind,
      outputShape: r.outputShape,
      params: r.params,
      totalParams: r.totalParams,
      macs: r.macs,
      receptiveField: r.receptiveField,
      depth: r.depth,
    })),
  }));
  const first = nets[0];
  return {
    file,
    net: first?.net ?? null,
    input: first?.input ?? null,
    totalParams: first?.totalParams ?? 0,
    trainableParams: first?.trainableParams ?? 0,
    nonTrainableParams: first?.nonTrainableParams ?? 0,
    macs: first?.macs ?? 0,
    layers: first?.layers ?? [],
    nets,
    diagnostics,
  };
}
