import type { Summary, SummaryRow } from './summary.js';

export type Column = 'macs' | 'rf' | 'name';
export const COLUMNS: Record<Column, { title: string; width: number; value: (r: SummaryRow) => string }> = {
  name: { title: 'Name', width: 28, value: (r) => r.name },
  macs: { title: 'MACs', width: 18, value: (r) => thousands(r.macs) },
  rf: { title: 'RF', width: 6, value: (r) => String(r.receptiveField) },
};

export function thousands(n: number): string {
  return Math.round(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

const pad = (s: string, width: number) => s.padStart(width);

/**
 * torchsummary's table, byte for byte when no extra columns and no depth limit are asked for.
 * `depth` hides rows nested deeper; a block row then shows everything inside it.
 */
export function renderTable(summary: Summary, options: { columns?: Column[]; depth?: number } = {}): string {
  const columns = options.columns ?? [];
  const extraWidth = columns.reduce((s, c) => s + COLUMNS[c].width + 1, 0);
  const rule = (ch: string) => ch.repeat(64 + extraWidth);
  const line = (layer: string, shape: string, params: string, extras: string[]) =>
    `${pad(layer, 20)}  ${pad(shape, 25)} ${pad(params, 15)}${extras.map((e, i) => ` ${pad(e, COLUMNS[columns[i]!].width)}`).join('')}`;
  const out: string[] = [
    rule('-'),
    line(
      'Layer (type)',
      'Output Shape',
      'Param #',
      columns.map((c) => COLUMNS[c].title),
    ),
    rule('='),
  ];
  for (const r of summary.rows) {
    if (options.depth !== undefined && r.depth > options.depth) continue;
    const folded = options.depth !== undefined && r.kind === 'block' && r.depth === options.depth;
    const params = folded ? r.totalParams : r.params + r.buffers;
    const extras = columns.map((c) => (c === 'macs' && r.kind === 'block' && !folded ? '' : COLUMNS[c].value(r)));
    out.push(line(r.row, `[${r.outputShape.join(', ')}]`, thousands(params), extras));
  }
  out.push(
    rule('='),
    `Total params: ${thousands(summary.totalParams)}`,
    `Trainable params: ${thousands(summary.trainableParams)}`,
    `Non-trainable params: ${thousands(summary.nonTrainableParams)}`,
  );
  if (columns.includes('macs')) out.push(`Total MACs: ${thousands(summary.macs)}`);
  out.push(
    rule('-'),
    `Input size (MB): ${summary.inputSizeMB.toFixed(2)}`,
    `Forward/backward pass size (MB): ${summary.forwardBackwardMB.toFixed(2)}`,
    `Params size (MB): ${summary.paramsMB.toFixed(2)}`,
    `Estimated Total Size (MB): ${summary.totalSizeMB.toFixed(2)}`,
    rule('-'),
  );
  return out.join('\n') + '\n';
}
