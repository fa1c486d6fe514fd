/* COCO run-length masks in the browser: the inverse of pycocotools' rleToString / mask.encode.
 *
 * The counts string holds run lengths, alternately of 0s and 1s (starting with 0s), over the pixels in
 * column-major order (down each column, then the next column). Each run is written in 5-bit groups, least
 * significant first, as characters offset by 48: bit 0x20 says "more groups follow", and in the last group
 * bit 0x10 is the sign. From the third run on, the value stored is the difference to the run two before.
 */
(function (global) {
  "use strict";

  function decodeCounts(counts) {
    const runs = [];
    let p = 0;
    while (p < counts.length) {
      let x = 0;
      let k = 0;
      let more = true;
      while (more) {
        if (p >= counts.length) throw new Error("truncated RLE counts string");
        const c = counts.charCodeAt(p) - 48;
        // Arithmetic, not bit shifts: JS shifts are 32-bit and a run can need more than 6 groups (30 bits).
        x += (c & 0x1f) * Math.pow(2, 5 * k);
        more = (c & 0x20) !== 0;
        p += 1;
        k += 1;
        if (!more && (c & 0x10)) x -= Math.pow(2, 5 * k);
      }
      if (runs.length > 2) x += runs[runs.length - 2];
      runs.push(x);
    }
    return runs;
  }

  /* Returns a Uint8Array of height*width in row-major order (index y*width + x), 1 inside the mask. */
  function decodeMask(rle) {
    const height = rle.size[0];
    const width = rle.size[1];
    const total = height * width;
    const out = new Uint8Array(total);
    const runs = typeof rle.counts === "string" ? decodeCounts(rle.counts) : rle.counts;
    let pos = 0;
    for (let i = 0; i < runs.length; i++) {
      const run = runs[i];
      if (run < 0 || pos + run > total) throw new Error("RLE runs do not fit the mask size");
      if (i % 2 === 1) {
        for (let j = pos; j < pos + run; j++) {
          // Column-major j -> (x, y).
          const x = Math.floor(j / height);
          const y = j - x * height;
          out[y * width + x] = 1;
        }
      }
      pos += run;
    }
    return out;
  }

  global.GMNERRle = { decodeCounts: decodeCounts, decodeMask: decodeMask };
})(typeof window !== "undefined" ? window : globalThis);
