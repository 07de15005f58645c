/**
 * `JSON.stringify(value, null, 2)` written in pieces. A summary or IR document of a net near the layer
 * limit (a million nodes) is longer than the longest string V8 can hold (2^29 characters), so building it
 * as one string fails with "Invalid string length"; written element by element, it has no such bound.
 */
export function writeJson(value: unknown, write: (chunk: string) => void): void {
  let buffer = '';
  const emit = (s: string): void => {
    buffer += s;
    if (buffer.length >= 1 << 20) {
      write(buffer);
      buffer = '';
    }
  };
  const walk = (v: unknown, indent: string): void => {
    if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
      v = (v as { toJSON(): unknown }).toJSON();
    }
    if (v === null || typeof v !== 'object') {
      emit(JSON.stringify(v) ?? 'null');
      return;
    }
    const inner = `${indent}  `;
    if (Array.isArray(v)) {
      if (v.length === 0) return emit('[]');
      emit('[\n');
      v.forEach((item, i) => {
        emit(inner);
        walk(isSkipped(item) ? null : item, inner);
        emit(i < v.length - 1 ? ',\n' : '\n');
      });
      return emit(`${indent}]`);
    }
    const entries = Object.entries(v).filter(([, x]) => !isSkipped(x));
    if (entries.length === 0) return emit('{}');
    emit('{\n');
    entries.forEach(([k, x], i) => {
      emit(`${inner}${JSON.stringify(k)}: `);
      walk(x, inner);
      emit(i < entries.length - 1 ? ',\n' : '\n');
    });
    emit(`${indent}}`);
  };
  walk(value, '');
  emit('\n');
  write(buffer);
}

/** What JSON.stringify leaves out of objects (and writes as null in arrays). */
function isSkipped(v: unknown): boolean {
  return v === undefined || typeof v === 'function' || typeof v === 'symbol';
}
