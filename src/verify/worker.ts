/**
 * One backend's side of `netc verify`, in its own process: `node dist/verify/worker.js DIR BACKEND`.
 * A process per backend keeps each backend's kernel registrations apart (plain wasm vs wasm with the
 * native addon cannot share a process). Reads DIR/jobs.json and DIR/<id>/batch.safetensors; writes
 * DIR/BACKEND/<id>.safetensors (what is compared), DIR/BACKEND/<id>.replay.safetensors (the dropout
 * masks and kink-op inputs the reference replays: apart, so that grouping backends reads only them)
 * and DIR/BACKEND/status.json ({backend, unavailable?, errors: {id: message}}).
 */
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileFile } from '../api.js';
import { describeBackend, selectBackend } from '../runtime/backend.js';
import { runNetc } from './netc-side.js';
import type { VerifyJob } from './spec.js';
import { readTensors, writeTensors, type Named } from './tensors.js';

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
      const batch = readTensors(join(dir, job.id, 'batch.safetensors'));
      const y = Int32Array.from(batch.get('y')!.data);
      // The first worker to get here writes the initial weights the reference starts from.
      const weights = join(dir, job.id, 'weights.safetensors');
      const initial = existsSync(weights)
        ? undefined
        : (state: Map<string, Named>) => {
            const part = `${weights}.${backend}`;
            writeTensors(part, state);
            renameSync(part, weights);
          };
      const results = runNetc(graph, job, { x: batch.get('x')!, y, classes }, initial);
      const replay = new Map([...results].filter(([k]) => k.startsWith('mask/') || k.startsWith('kink/')));
      for (const k of replay.keys()) results.delete(k);
      writeTensors(join(outDir, `${job.id}.safetensors`), results);
      writeTensors(join(outDir, `${job.id}.replay.safetensors`), replay);
    } catch (e) {
      status.errors[job.id] = String((e as Error).message ?? e).split('\n')[0]!;
      if (process.env['NETC_VERIFY_DEBUG']) console.error((e as Error).stack);
    }
    status.seconds[job.id] = (performance.now() - t0) / 1000;
  }
  done();
}

await main(process.argv[2]!, process.argv[3]!);
