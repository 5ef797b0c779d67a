/**
 * CRC-32 (ISO-HDLC, the polynomial PNG and zlib use) of a byte string. Node 20 has no `zlib.crc32` (it
 * arrived in Node 22.2), and none of the installed packages exports one, so PNG chunks get theirs here.
 */
const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(bytes: Uint8Array, initial = 0): number {
  let c = ~initial >>> 0;
  for (const byte of bytes) c = TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
