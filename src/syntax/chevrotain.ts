import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Chevrotain from 'chevrotain';

/**
 * chevrotain's package entry loads ~200 small ES modules (itself and lodash-es), about half a second of
 * start-up; its single-file bundle beside them loads in a few milliseconds. `netc check` must start fast,
 * so load the bundle (its `exports` map hides it, hence the path arithmetic from the resolved entry).
 */
const entry = createRequire(import.meta.url).resolve('chevrotain');
const bundle = join(dirname(entry), '..', 'chevrotain.mjs');

export const chevrotain = (await import(pathToFileURL(bundle).href)) as typeof Chevrotain;
