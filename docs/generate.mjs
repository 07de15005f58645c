#!/usr/bin/env node
// Regenerates the docs that are derived from code: docs/diagnostics.md (from the diagnostic catalog).
// Run after `npm run build`; test/docs.test.ts fails when the committed file is stale.
import { writeFileSync } from 'node:fs';
import { catalogMarkdown } from '../dist/diagnostics/catalog.js';

writeFileSync(new URL('./diagnostics.md', import.meta.url), catalogMarkdown());
console.log('wrote docs/diagnostics.md');
