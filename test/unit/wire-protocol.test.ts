/** The frame reader (split, packed, oversized, garbage) and backend writers (exact bytes). */
import { describe, expect, it } from 'vitest';
import * as be from '../../src/wire/backend.js';
import { ProtocolViolation } from '../../src/wire/buffer.js';
import { FrameReader, PROTOCOL_3_0, SSL_REQUEST_CODE } from '../../src/wire/frames.js';
import { parseQuery, parseStartupParameters, query, startupMessage } from '../../src/wire/frontend.js';
import { zeroColumnOrigins } from '../../src/wire/relay.js';

const hex = (b: Buffer) => b.toString('hex');

describe('FrameReader', () => {
  it('reads a startup packet split byte by byte, then typed messages packed in one chunk', () => {
    const r = new FrameReader({ startup: true });
    const packet = startupMessage({ user: 'alice', database: 'demo' });
    for (const byte of packet) {
      expect(r.next()).toBeNull();
      r.push(Buffer.from([byte]));
    }
    const startup = r.next()!;
    expect(startup.code).toBe(PROTOCOL_3_0);
    expect(Object.fromEntries(parseStartupParameters(startup.body))).toEqual({
      user: 'alice',
      database: 'demo',
    });
    r.startup = false;
    r.push(Buffer.concat([query('SELECT 1'), query('SELECT 2'), query('SELECT 3').subarray(0, 7)]));
    expect(parseQuery(r.next()!.body)).toBe('SELECT 1');
    const second = r.next()!;
    expect([second.type, parseQuery(second.body)]).toEqual(['Q', 'SELECT 2']);
    expect(second.raw).toEqual(query('SELECT 2'));
    expect(r.next()).toBeNull(); // the third one is incomplete
    r.push(query('SELECT 3').subarray(7));
    expect(parseQuery(r.next()!.body)).toBe('SELECT 3');
    expect(r.pending).toBe(0);
  });

  it('recognises SSLRequest', () => {
    const r = new FrameReader({ startup: true });
    r.push(Buffer.from('0000000804d2162f', 'hex'));
    expect(r.next()).toMatchObject({ code: SSL_REQUEST_CODE, type: '' });
  });

  it('refuses oversized and undersized lengths before buffering the body', () => {
    const big = new FrameReader({ maxMessageLength: 1024 });
    big.push(Buffer.from([0x51, 0x00, 0x10, 0x00, 0x00]));
    expect(() => big.next()).toThrow(ProtocolViolation);
    const small = new FrameReader();
    small.push(Buffer.from([0x51, 0, 0, 0, 3]));
    expect(() => small.next()).toThrow(ProtocolViolation);
    const startup = new FrameReader({ startup: true });
    startup.push(Buffer.from('GET / HTTP/1.1\r\n'));
    expect(() => startup.next()).toThrow(ProtocolViolation);
  });

  it('refuses malformed bodies', () => {
    expect(() => parseQuery(Buffer.from('no terminator'))).toThrow(ProtocolViolation);
    expect(() => parseStartupParameters(Buffer.from('user\0alice'))).toThrow(ProtocolViolation);
  });
});

describe('backend writers', () => {
  it('encode exact bytes', () => {
    expect(hex(be.authenticationOk())).toBe('520000000800000000');
    expect(hex(be.readyForQuery('T'))).toBe('5a0000000554');
    expect(hex(be.emptyQueryResponse())).toBe('4900000004');
    expect(be.commandComplete('SET')).toEqual(Buffer.from('C\0\0\0\x08SET\0', 'latin1'));
    expect(be.parameterStatus('a', 'b')).toEqual(Buffer.from('S\0\0\0\x08a\0b\0', 'latin1'));
    expect(be.backendKeyData(1, 2)).toEqual(Buffer.from('4b0000000c0000000100000002', 'hex'));
    expect(be.authenticationSasl(['SCRAM-SHA-256'])).toEqual(
      Buffer.from('R\0\0\0\x17\0\0\0\x0aSCRAM-SHA-256\0\0', 'latin1'),
    );
    expect(be.authenticationSaslContinue('r=x')).toEqual(Buffer.from('R\0\0\0\x0b\0\0\0\x0br=x', 'latin1'));
    expect(be.negotiationRefused()).toEqual(Buffer.from('N'));
  });

  it('encode ErrorResponse fields in PostgreSQL order', () => {
    const msg = be.errorResponse({
      severity: 'ERROR',
      code: '42P01',
      message: 'm',
      detail: 'd',
      hint: 'h',
      position: 7,
    });
    const body = 'SERROR\0VERROR\0C42P01\0Mm\0Dd\0Hh\0P7\0\0';
    expect(msg).toEqual(
      Buffer.concat([Buffer.from('E'), Buffer.from([0, 0, 0, body.length + 4]), Buffer.from(body)]),
    );
  });

  it('RowDescription and DataRow round-trip; the relay zeroes table OID and column number', () => {
    const t = be.rowDescription([
      { name: 'id', tableOid: 16385, columnNumber: 7, typeOid: 23, typeSize: 4, typeModifier: -1 },
    ]);
    expect(hex(t)).toBe('540000001b0001696400000040010007000000170004ffffffff0000');
    const body = t.subarray(5);
    zeroColumnOrigins(body);
    expect(hex(t)).toBe('540000001b0001696400000000000000000000170004ffffffff0000');
    expect(be.dataRow(['x', null])).toEqual(Buffer.from('440000000f00020000000178ffffffff', 'hex'));
  });
});
