import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { generateCertificates, randomSerial } from '../../src/certs/generate.js';

describe('certificate serial numbers', () => {
  it('are 128-bit, positive and minimally DER-encoded: the first byte is never 0x00 (before a byte < 0x80 that is "illegal padding")', () => {
    const serials = Array.from({ length: 2_000 }, randomSerial);
    for (const serial of serials) expect(serial).toMatch(/^1[0-9a-f]{31}$/);
    expect(new Set(serials).size).toBe(serials.length);
  });

  it('make certificates that parse', () => {
    const generated = generateCertificates({ hosts: ['localhost'], validityDays: 1, caValidityDays: 2 });
    for (const pem of [generated.caCert, generated.cert]) expect(new X509Certificate(pem).serialNumber).toMatch(/^1[0-9A-F]{31}$/);
  });
});
