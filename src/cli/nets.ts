/** `netc nets` (alias `ls`): the standard library's networks, with their parameters, input and size. */
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { compileFile } from '../api.js';
import { STDLIB_DIR } from '../bind/program.js';
import { summarize } from '../check/summary.js';
import { stdlibNames } from './netfile.js';
import { EXIT_DIAGNOSTICS, EXIT_OK } from './io.js';

interface StdlibNet {
  name: string;
  file: string;
  args: Record<string, unknown>;
  input: number[];
  params: number;
}

/** Every net of every stdlib file, compiled with its defaults. */
export function stdlibNets(): { nets: StdlibNet[]; modules: string[]; broken: string[] } {
  const nets: StdlibNet[] = [];
  const modules: string[] = [];
  const broken: string[] = [];
  for (const name of stdlibNames()) {
    const file = join(STDLIB_DIR, `${name}.net`);
    const r = compileFile(file);
    if (r.diagnostics.some((d) => d.severity === 'error')) broken.push(name);
    else if (r.graphs.length === 0) modules.push(name);
    for (const g of r.graphs) nets.push({ name: g.net, file, args: g.args, input: g.input, params: summarize(g).totalParams });
  }
  return { nets, modules, broken };
}

export function registerNets(program: Command): void {
  program
    .command('nets')
    .alias('ls')
    .exitOverride()
    .description("list the standard library's networks: name, parameters, input shape, parameter count")
    .addOption(new Option('--format <format>', 'human: a table; json: an array').choices(['human', 'json']).default('human'))
    .addHelpText(
      'after',
      `
Any command that takes a FILE takes one of these names too, from any directory:
  netc check resnet34
  netc train resnet20_cifar --data cifar10
A file of that name in the current directory wins; the file used is printed on stderr.`,
    )
    .action((o: { format: 'human' | 'json' }) => {
      const { nets, modules, broken } = stdlibNets();
      if (o.format === 'json') {
        process.stdout.write(JSON.stringify({ dir: STDLIB_DIR, nets, modules }, null, 2) + '\n');
      } else {
        const rows = nets.map((n) => [
          n.name,
          Object.entries(n.args)
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(' '),
          n.input.join('x'),
          n.params.toLocaleString('en-US'),
        ]);
        const head = ['net', 'parameters', 'input', 'params'];
        const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
        const line = (r: string[]) =>
          r
            .map((c, i) => (i === 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
            .join('  ')
            .trimEnd();
        process.stdout.write([line(head), ...rows.map(line)].join('\n') + '\n');
        process.stdout.write(`\nblock libraries (for \`use "name"\`): ${modules.join(', ')}\nfiles: ${STDLIB_DIR}\n`);
      }
      if (broken.length) {
        process.stderr.write(`netc: the standard library's ${broken.join(', ')} did not compile (\`netc check ${broken[0]}\` shows why)\n`);
        process.exitCode = EXIT_DIAGNOSTICS;
      } else process.exitCode = EXIT_OK;
    });
}
