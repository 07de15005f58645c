/**
 * One backend's side of `netc verify`, in its own process: `node dist/verify/worker.js DIR BACKEND`.
 * A process per backend keeps each backend's kernel registrations apart (plain wasm vs wasm with the
 * native addon cannot share a process). Reads DIR/jobs.json, writes DIR/BACKEND/<id>.safetensors
 * and DIR/BACKEND/status.json ({backend, unavailable?, errors: {id: message}}).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileFile } from '../api.js';
import { describeBackend, selectBackend } from '../runtime/backend.js';
import { runNetc } from './netc-side.js';
import type { VerifyJob } from './spec.js';
import { readTensors, writeTensors } from './tensors.js';

async function main(dir: string, backend: string): Promise<void> {
  const outDir = join(dir, backend);
  mkdirSync(outDir, { recursive: true });
  const status: { backend: string; description?: string; unavailable?: string; errors: Record<string, string>; seconds: Record<string, number> } = {
    backend,
    errors: {},
    seconds: {},
  };
  const done = () => writeFileSync(join(outDir, 'status.json'), JSON.stringify(status, null, 2));
  try {
    const choice = await selectBackend(backend === 'wasm+native' ? 'wasm' : backend);
    status.description = describeBackend(choice)[0];
    if (backend === 'wasm+native' && !choice.convolutions) {
      status.unavailable = `the native addon is not in use: ${choice.details.find((d) => d.startsWith('convolutions:')) ?? 'not built'} (npm run build:native)`;
      return done();
    }
  } catch (e) {
    status.unavailable = (e as Error).message.split('\n')[0];
    return done();
  }
  const jobs = JSON.parse((await import('node:fs')).readFileSync(join(dir, 'jobs.json'), 'utf8')) as { job: VerifyJob; classes: number }[];
  for (const { job, classes } of jobs) {
    const t0 = performance.now();
    try {
      const compiled = compileFile(job.file, { args: job.args, input: job.input, net: job.net });
      const graph = compiled.graphs[0]!;
      const inputs = readTensors(join(dir, job.id, 'inputs.safetensors'));
      const y = Int32Array.from(inputs.get('y')!.data);
      writeTensors(join(outDir, `${job.id}.safetensors`), runNetc(graph, job, { x: inputs.get('x')!, y, classes }));
    } catch (e) {
      status.errors[job.id] = String((e as Error).message ?? e).split('\n')[0]!;
      if (process.env['NETC_VERIFY_DEBUG']) console.error((e as Error).stack);
    }
    status.seconds[job.id] = (performance.now() - t0) / 1000;
  }
  done();
}

await main(process.argv[2]!, process.argv[3]!);
