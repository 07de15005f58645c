/**
 * The CLI around the compiler: standard-library nets by name from any directory (a local file wins
 * and the file used is printed), `netc nets`, JSON for every failure under `--format json`, the
 * messages for bad `--set` values, and helps that show defaults one way.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DOCS_URL } from '../../src/diagnostics/render.js';
import { netc, netcInProcess, ROOT, STDLIB } from './helpers.js';

const elsewhere = mkdtempSync(join(tmpdir(), 'netc-names-'));
afterAll(() => rmSync(elsewhere, { recursive: true, force: true }));

describe('standard-library nets by name', () => {
  it('`netc check resnet34` and `resnet34.net` work from any directory and say which file they used', () => {
    for (const name of ['resnet34', 'resnet34.net']) {
      const r = netc(['check', name], { cwd: elsewhere });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain('Total params: 21,797,672');
      expect(r.stderr).toContain(`using the standard library's ${join(STDLIB, 'resnet34.net')}`);
    }
  });

  it('a file of that name in the current directory wins, and the output says so', () => {
    const dir = mkdtempSync(join(elsewhere, 'local-'));
    writeFileSync(join(dir, 'resnet34.net'), 'net mine : [1, 4, 4] <\n  flatten; linear 3\n>\n');
    const r = netc(['check', 'resnet34', '--format', 'json'], { cwd: dir });
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.net).toBe('mine');
    expect(doc.file).toBe(join(dir, 'resnet34.net'));
    expect(r.stderr).toMatch(/using \.\/resnet34\.net from this directory \(a local file wins over the standard library's resnet34\.net\)/);
  });

  it('a name that is neither a file nor a stdlib net is a usage error with similar names and `netc nets`', async () => {
    const r = await netcInProcess(['check', 'resnet35']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('netc: no such file: resnet35 (nor a standard-library net of that name; similar: ');
    expect(r.stderr).toContain('resnet34');
    expect(r.stderr).toContain('`netc nets` lists them');
  });

  it('`netc nets` (alias `ls`) lists every stdlib net with its parameters, input and parameter count', async () => {
    const r = await netcInProcess(['nets']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^resnet34\s+classes=1000\s+3x224x224\s+21,797,672$/m);
    expect(r.stdout).toMatch(/^densenet_bc_cifar\s+classes=10 k=12 n=19 theta=0\.5 drop=0\.2\s+3x32x32\s+1,020,550$/m);
    expect(r.stdout).toContain(
      'block libraries (for `use "name"`): convnext, densenet, efficientnet, inception, mobilenet, mobilenetv3, resnet, se, shufflenet, squeezenet, vgg, vit',
    );
    const json = JSON.parse((await netcInProcess(['ls', '--format', 'json'])).stdout);
    const lenet = json.nets.find((n: { name: string }) => n.name === 'lenet5');
    expect(lenet).toEqual({ name: 'lenet5', file: join(STDLIB, 'lenet5.net'), args: { classes: 10 }, input: [1, 28, 28], params: 44426 });
    expect(json.nets).toHaveLength(30);
  });
});

describe('--format json prints JSON for every failure', () => {
  const failures: [string, string[], RegExp][] = [
    ['a missing file', ['check', 'no-such.net', '--format', 'json'], /^no such file: no-such\.net/],
    ['an unknown option', ['check', 'resnet34', '--format=json', '--colour'], /unknown option '--colour'/],
    ['a bad option value', ['check', 'resnet34', '--format', 'json', '--depth', '0'], /--depth must be a positive integer/],
  ];
  for (const [what, args, message] of failures) {
    it(what, async () => {
      const r = await netcInProcess(args);
      expect(r.status).toBe(2);
      const doc = JSON.parse(r.stdout);
      expect(doc.error.kind).toBe('usage');
      expect(doc.error.exitCode).toBe(2);
      expect(doc.error.message).toMatch(message);
    });
  }

  it('without --format json the same failure prints no JSON', async () => {
    const r = await netcInProcess(['check', 'no-such.net']);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('netc: no such file: no-such.net (nor a standard-library net of that name; `netc nets` lists them)\n');
    const path = await netcInProcess(['check', 'some/dir/no-such.net']);
    expect(path.stderr).toBe('netc: no such file: some/dir/no-such.net\n');
  });
});

describe('messages', () => {
  it('--set classes=abc blames the flag, at the parameter it sets', async () => {
    const r = await netcInProcess(['check', 'lenet5', '--set', 'classes=abc']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('error[NET1003]: --set classes=abc: `classes` of net `lenet5` takes a number, not a string');
    expect(r.stderr).toContain('net lenet5(classes=10)');
    expect(r.stderr).toContain('help: its default is 10; pass e.g. --set classes=10');
    expect(r.stderr).not.toContain('linear classes');
  });

  it("--set of a parameter the net lacks names the net's parameters", async () => {
    const r = await netcInProcess(['check', 'lenet5', '--set', 'clases=5']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('net `lenet5` has no parameter `clases` (from --set)');
    expect(r.stderr).toContain('its parameters: classes');
  });

  it('train and eval: usage mistakes exit 2 before anything loads, with ranges a reader can use', async () => {
    const lr = await netcInProcess(['train', 'lenet5', '--lr', '-1']);
    expect([lr.status, lr.stderr]).toEqual([2, 'netc: --lr must be a number > 0, got "-1"\n']);
    const momentum = await netcInProcess(['train', 'lenet5', '--momentum', '2']);
    expect(momentum.stderr).toBe('netc: --momentum must be a number in [0, 1], got "2"\n');
    const data = await netcInProcess(['train', 'lenet5', '--data', 'cifar11']);
    expect(data.status).toBe(2);
    expect(data.stderr).toContain('netc: --data cifar11: unknown dataset; choose from fashion-mnist-sample, fashion-mnist, mnist, cifar10');
    const evaluate = await netcInProcess(['eval', 'lenet5', '--weights', 'no-such-run', '--data', 'cifar11', '--format', 'json']);
    expect(evaluate.status).toBe(2);
    expect(JSON.parse(evaluate.stdout).error.message).toMatch(/^--data cifar11: unknown dataset/);
  });

  it('every help shows defaults and choices unquoted', async () => {
    for (const command of ['check', 'nets', 'train', 'eval', 'predict', 'cam', 'export']) {
      const r = await netcInProcess([command, '--help']);
      expect(r.status, command).toBe(0);
      expect(r.stdout, command).not.toMatch(/(default|choices): "/);
    }
    const train = (await netcInProcess(['train', '--help'])).stdout.replace(/\s+/g, ' ');
    expect(train).toContain('(default: fashion-mnist-sample)');
    expect(train).toContain('(choices: sgd, momentum, nesterov, adam, adamw, rmsprop; default: momentum)');
    expect(train).toContain('--test-subset <n>');
    const predict = (await netcInProcess(['predict', '--help'])).stdout.replace(/\s+/g, ' ');
    expect(predict).toContain('(default: 128)');
  });

  it('the eval/predict/cam examples use a run directory that a train example makes', async () => {
    for (const command of ['eval', 'predict', 'cam']) {
      const help = (await netcInProcess([command, '--help'])).stdout;
      const made = [...help.matchAll(/netc train .*--out (\S+)/g)].map((m) => m[1]);
      const used = [...help.matchAll(/--weights (\S+)/g)].map((m) => m[1]).filter((w) => w !== '<run>');
      expect(used.length, command).toBeGreaterThan(0);
      for (const w of used) expect(made, `${command}: --weights ${w}`).toContain(w);
    }
  });
});

describe('the package ships what diagnostics link to', () => {
  it("codeDescription.href points into a folder that package.json's files publishes", () => {
    const target = relative(ROOT, fileURLToPath(DOCS_URL));
    const files: string[] = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).files;
    expect(files).toContain(target.split('/')[0]);
    expect(readFileSync(join(ROOT, target), 'utf8')).toContain('NET4001');
  });
});
