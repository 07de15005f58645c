/**
 * Reading JSON-RPC frames (`Content-Length: N\r\n\r\n` + N bytes of JSON) so that a damaged frame costs
 * that message only. vscode-jsonrpc's reader answers nothing to a body that is not JSON and, after a
 * Content-Length that is too short, takes the rest of that body for the next header and stops reading
 * for good. Here a body that is not JSON is answered with -32700 (parse error) and the reader resumes
 * at the next `Content-Length` header: after a too-short length, the leftover bytes are skipped; after
 * a too-long one, a header swallowed into the bad body is found there again.
 */
import { AbstractMessageReader, type DataCallback, type Disposable, type Message } from 'vscode-languageserver/node';

const HEADER = Buffer.from('content-length:');
const SEPARATOR = Buffer.from('\r\n\r\n');
/** A header block longer than this is garbage, not a header. */
const MAX_HEADER_BYTES = 8 * 1024;
/** A body longer than this is refused unread (an editor's messages are well under this). */
export const MAX_BODY_BYTES = 256 * 1024 * 1024;

export interface FrameError {
  /** -32700 for a body that is not JSON; -32600 for JSON that is not a message or a header that cannot be read. */
  code: -32700 | -32600;
  message: string;
}

/** The first `Content-Length:` header (any letter case) at or after `from`, or -1. */
function findHeader(buffer: Buffer, from: number): number {
  const lower = (b: number) => (b >= 0x41 && b <= 0x5a ? b | 0x20 : b);
  for (let i = from; i <= buffer.length - HEADER.length; i++) {
    let j = 0;
    while (j < HEADER.length && lower(buffer[i + j]!) === HEADER[j]) j++;
    if (j === HEADER.length) return i;
  }
  return -1;
}

/** Splits a byte stream into messages; reports each damaged frame to `onBadFrame` and carries on. */
export class FrameParser {
  private buffer: Buffer = Buffer.alloc(0);

  constructor(
    private readonly onMessage: (message: Message) => void,
    private readonly onBadFrame: (error: FrameError) => void,
  ) {}

  push(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    for (;;) {
      // Resynchronise: bytes before a header (the tail of a body whose length was understated) are dropped.
      const start = findHeader(this.buffer, 0);
      if (start < 0) {
        // Keep a tail that could be the start of a header split across chunks.
        this.buffer = this.buffer.subarray(Math.max(0, this.buffer.length - HEADER.length + 1));
        return;
      }
      // A Content-Type header before it is dropped with the rest: bodies are UTF-8 JSON either way.
      if (start > 0) this.buffer = this.buffer.subarray(start);
      const headerEnd = this.buffer.indexOf(SEPARATOR);
      if (headerEnd < 0) {
        if (this.buffer.length > MAX_HEADER_BYTES) this.skipHeader('a header block without its blank line');
        else return;
        continue;
      }
      const headers = this.buffer.subarray(0, headerEnd).toString('ascii');
      const length = /content-length:[ \t]*(\d+)[ \t]*(\r\n|$)/i.exec(headers)?.[1];
      if (length === undefined || Number(length) > MAX_BODY_BYTES) {
        this.skipHeader(
          length === undefined
            ? `an unreadable Content-Length header (${JSON.stringify(headers.slice(0, 80))})`
            : `a body of ${length} bytes, over the limit of ${MAX_BODY_BYTES}`,
        );
        continue;
      }
      const bodyStart = headerEnd + SEPARATOR.length;
      const bodyEnd = bodyStart + Number(length);
      if (this.buffer.length < bodyEnd) return;
      const body = this.buffer.subarray(bodyStart, bodyEnd);
      this.buffer = this.buffer.subarray(bodyEnd);
      this.deliver(body);
    }
  }

  /** Drop the header at the front and report it. */
  private skipHeader(why: string): void {
    this.buffer = this.buffer.subarray(HEADER.length);
    this.onBadFrame({ code: -32600, message: `netc lsp: skipped a frame with ${why}` });
  }

  private deliver(body: Buffer): void {
    let message: unknown;
    try {
      message = JSON.parse(body.toString('utf8'));
    } catch (e) {
      // A Content-Length that overstated the body swallowed the next frame's header: read on from there.
      const swallowed = findHeader(body, 1);
      if (swallowed >= 0) this.buffer = Buffer.concat([body.subarray(swallowed), this.buffer]);
      this.onBadFrame({ code: -32700, message: `parse error: the body of ${body.length} bytes is not JSON (${(e as Error).message})` });
      return;
    }
    if (!message || typeof message !== 'object' || Array.isArray(message)) {
      this.onBadFrame({ code: -32600, message: 'invalid request: a JSON-RPC message is a JSON object' });
      return;
    }
    this.onMessage(message as Message);
  }
}

/** A MessageReader over a byte stream (stdin) built on FrameParser. */
export class ResilientReader extends AbstractMessageReader {
  constructor(
    private readonly readable: NodeJS.ReadableStream,
    private readonly onBadFrame: (error: FrameError) => void,
  ) {
    super();
  }

  listen(callback: DataCallback): Disposable {
    const parser = new FrameParser(callback, this.onBadFrame);
    const onData = (chunk: Buffer) => parser.push(chunk);
    const onClose = () => this.fireClose();
    const onError = (e: Error) => this.fireError(e);
    this.readable.on('data', onData);
    this.readable.on('close', onClose);
    this.readable.on('end', onClose);
    this.readable.on('error', onError);
    return {
      dispose: () => {
        this.readable.off('data', onData);
        this.readable.off('close', onClose);
        this.readable.off('end', onClose);
        this.readable.off('error', onError);
      },
    };
  }
}
