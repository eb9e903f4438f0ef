import { createHash } from 'node:crypto';
import { BUILTIN_REDACTION_RULES, createStreamRedactor, redactText } from '@emisar/packs';
import { describe, expect, it } from 'vitest';
import { PIECE_BYTES, StreamCapture, type StreamRedactor } from './output.js';

// A pass-through redactor: these tests are about capping, pieces and UTF-8 (the
// packs package tests redaction itself; the engine tests use the real one).
const identity: StreamRedactor = { push: (s) => s, end: () => '' };

function capture(maxRawBytes: number, previewBytes = 16) {
  const pieces: string[] = [];
  const c = new StreamCapture({
    maxRawBytes,
    previewBytes,
    redactor: identity,
    keepText: true,
    emit: (t) => pieces.push(t),
  });
  return { c, pieces };
}

const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

describe('StreamCapture', () => {
  it('emits line by line and hashes the emitted stream', () => {
    const { c, pieces } = capture(1 << 20);
    c.push(Buffer.from('one\ntw'));
    c.push(Buffer.from('o\nthree'));
    const summary = c.end();
    expect(pieces).toEqual(['one\n', 'two\n', 'three']);
    expect(summary).toMatchObject({ bytes: 13, sha256: sha('one\ntwo\nthree'), truncated: false });
    expect(summary.preview).toBe('one\ntwo\nthree');
  });

  it('cuts long lines into 64 KiB pieces', () => {
    const { c, pieces } = capture(1 << 20);
    c.push(Buffer.alloc(PIECE_BYTES * 2 + 10, 'a'));
    c.end();
    expect(pieces.map((p) => p.length)).toEqual([PIECE_BYTES, PIECE_BYTES, 10]);
  });

  it('applies the cap to raw bytes; the rest is counted and hashed, then dropped', () => {
    const { c, pieces } = capture(6);
    c.push(Buffer.from('abc\ndef\nghi'));
    const summary = c.end();
    expect(pieces.join('')).toBe('abc\nde');
    expect(summary).toMatchObject({
      truncated: true,
      rawBytes: 11,
      droppedBytes: 5,
      droppedSha256: sha('f\nghi'),
      bytes: 6,
    });
  });

  it('replaces invalid UTF-8 with U+FFFD and keeps a character split across reads', () => {
    const { c } = capture(1 << 20);
    const euro = Buffer.from('€');
    c.push(Buffer.concat([Buffer.from('x'), euro.subarray(0, 1)]));
    c.push(Buffer.concat([euro.subarray(1), Buffer.from([0xff, 0x0a])]));
    c.end();
    expect(c.text()).toBe('x€\uFFFD\n');
  });

  it('cuts the preview on a character boundary', () => {
    const { c } = capture(1 << 20, 4);
    c.push(Buffer.from('ab€cd'));
    expect(c.end().preview).toBe('ab');
  });
});

describe('StreamCapture with the real redactor', () => {
  it('redacts a secret that crosses the 64 KiB piece bound of one long line', () => {
    // `… AKIAIO` ends the first piece and `SFODNN7EXAMPLE …` starts the second.
    const line = `${'a'.repeat(PIECE_BYTES - 7)} AKIAIOSFODNN7EXAMPLE and more\n`;
    expect(line.indexOf('SFODNN')).toBe(PIECE_BYTES);
    const redactor = createStreamRedactor(BUILTIN_REDACTION_RULES);
    const pieces: string[] = [];
    const c = new StreamCapture({
      maxRawBytes: 1 << 20,
      previewBytes: 16,
      redactor,
      keepText: true,
      emit: (t) => pieces.push(t),
    });
    c.push(Buffer.from(line));
    c.end();
    expect(c.text()).toBe(`${'a'.repeat(PIECE_BYTES - 7)} [REDACTED_AWS_KEY] and more\n`);
    expect(c.text()).toBe(redactText(line, BUILTIN_REDACTION_RULES).text);
    expect(pieces.join('')).toBe(c.text());
    expect(redactor.hits()).toEqual([{ name: 'aws-access-key', type: 'builtin', count: 1 }]);
  });
});
