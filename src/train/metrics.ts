/** Accuracy, per-class accuracy and the confusion matrix (rows: true class, columns: predicted). */
export class Confusion {
  readonly m: number[][];
  constructor(readonly classes: number) {
    this.m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  }
  add(truth: ArrayLike<number>, pred: ArrayLike<number>): void {
    for (let i = 0; i < truth.length; i++) this.m[truth[i]!]![pred[i]!]!++;
  }
  get total(): number {
    return this.m.reduce((a, r) => a + r.reduce((x, y) => x + y, 0), 0);
  }
  accuracy(): number {
    const t = this.total;
    return t === 0 ? 0 : this.m.reduce((a, r, i) => a + r[i]!, 0) / t;
  }
  perClass(): number[] {
    return this.m.map((r, i) => {
      const n = r.reduce((x, y) => x + y, 0);
      return n === 0 ? 0 : r[i]! / n;
    });
  }
}
