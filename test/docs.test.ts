import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { catalogMarkdown } from '../src/diagnostics/catalog.js';

describe('generated docs', () => {
  it('docs/diagnostics.md matches the diagnostic catalog (regenerate with node docs/generate.mjs)', () => {
    const committed = readFileSync(new URL('../docs/diagnostics.md', import.meta.url), 'utf8');
    expect(committed).toBe(catalogMarkdown());
  });
});
