/**
 * Learning curves as SVG, drawn by Vega-Lite (rendered headless by Vega's SVG renderer; no canvas
 * or browser needed): loss and accuracy per epoch, train vs validation.
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';

export interface EpochPoint {
  epoch: number;
  trainLoss: number;
  valLoss: number | null;
  trainAccuracy: number;
  valAccuracy: number | null;
}

export async function curveSvg(points: EpochPoint[], metric: 'loss' | 'accuracy', title: string): Promise<string> {
  const rows = points.flatMap((p) => {
    const train = metric === 'loss' ? p.trainLoss : p.trainAccuracy;
    const val = metric === 'loss' ? p.valLoss : p.valAccuracy;
    const r = [{ epoch: p.epoch, split: 'train', value: train }];
    if (val != null && Number.isFinite(val)) r.push({ epoch: p.epoch, split: 'validation', value: val });
    return r.filter((x) => Number.isFinite(x.value));
  });
  const spec: vl.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 480,
    height: 280,
    data: { values: rows },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1, format: 'd' } },
      y: {
        field: 'value',
        type: 'quantitative',
        title: metric,
        ...(metric === 'accuracy' ? { axis: { format: '%' } } : {}),
        scale: { zero: false },
      },
      color: { field: 'split', type: 'nominal', title: null },
    },
  };
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}
