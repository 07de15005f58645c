// The server's JSON-RPC frame reader, byte by byte: what arrives split, merged, damaged or lying.
import { describe, expect, it } from 'vitest';
import { type FrameError, FrameParser } from '../../src/lsp/framing.js';

function parse(chunks: (string | Buffer)[]) {
  const messages: unknown[] = [];
  const errors: FrameError[] = [];
  const parser = new FrameParser(
    (m) => messages.push(m),
    (e) => errors.push(e),
  );
  for (const c of chunks) parser.push(Buffer.isBuffer(c) ? c : Buffer.from(c, 'utf8'));
  return { messages, errors };
}

const frame = (body: string, length = Buffer.byteLength(body)) => `Content-Length: ${length}\r\n\r\n${body}`;
const msg = (id: number) => JSON.stringify({ jsonrpc: '2.0', id, method: 'm', params: { text: 'é ✓' } });

describe('FrameParser', () => {
  it('reads frames merged in one chunk and split one byte at a time', () => {
    const both = frame(msg(1)) + frame(msg(2));
    expect(parse([both]).messages).toHaveLength(2);
    const bytes = Buffer.from(both);
    const split = parse([...bytes].map((b) => Buffer.from([b])));
    expect(split.messages.map((m) => (m as { id: number }).id)).toEqual([1, 2]);
    expect(split.errors).toEqual([]);
  });

  it('takes other headers and any letter case', () => {
    const r = parse([`Content-Type: application/vscode-jsonrpc; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(msg(3))}\r\n\r\n${msg(3)}`]);
    expect(r.messages).toEqual([JSON.parse(msg(3))]);
  });

  it('answers a body that is not JSON with -32700 and reads the next frame', () => {
    const r = parse([frame('{"jsonrpc": "2.0", "id": 4, oops}') + frame(msg(5))]);
    expect(r.errors.map((e) => e.code)).toEqual([-32700]);
    expect(r.messages).toEqual([JSON.parse(msg(5))]);
  });

  it('recovers from a length that is too short (the rest of the body is skipped)', () => {
    const body = msg(6);
    const r = parse([frame(body, body.length - 7), frame(msg(7))]);
    expect(r.errors.map((e) => e.code)).toEqual([-32700]);
    expect(r.messages).toEqual([JSON.parse(msg(7))]);
  });

  it('recovers from a length that is too long (the swallowed header is found again)', () => {
    const r = parse([frame(msg(8), Buffer.byteLength(msg(8)) + 25) + frame(msg(9))]);
    expect(r.errors.map((e) => e.code)).toEqual([-32700]);
    expect(r.messages).toEqual([JSON.parse(msg(9))]);
  });

  it('refuses JSON that is not an object, a header without a number, and leading garbage', () => {
    const r = parse(['garbage\r\n', frame('[1, 2]'), 'Content-Length: twelve\r\n\r\n', frame(msg(10))]);
    expect(r.errors.map((e) => e.code)).toEqual([-32600, -32600]);
    expect(r.messages).toEqual([JSON.parse(msg(10))]);
  });

  it('refuses a declared length over the limit without waiting for it', () => {
    const r = parse([`Content-Length: 99999999999\r\n\r\n{}`, frame(msg(11))]);
    expect(r.errors[0]!.message).toContain('over the limit');
    expect(r.messages).toEqual([JSON.parse(msg(11))]);
  });
});
