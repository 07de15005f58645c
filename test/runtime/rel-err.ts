/** Max |a-b| / max(1e-12, max|b|): the error relative to the reference tensor's scale. */
export function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 1e-12;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / den;
}
