//! Buckets of zigzagged residuals: a residual is coded as the Huffman code of its bucket
//! followed by its offset within the bucket in plain bits.
//!
//! With precision `p` (0, 1 or 2), values below `2^(p+1)` are buckets of their own; a larger
//! value of bit length `L` falls in one of the `2^p` equal slices of the octave
//! `[2^(L-1), 2^L)`, chosen by its `p` bits after the leading one, and the offset is its low
//! `L - 1 - p` bits. Higher precision follows a bell-shaped distribution more closely (less
//! loss from treating a slice as uniform) at the price of a larger code table, so the encoder
//! picks it per column by cost.

/// The largest precision; with it every bucket number fits a byte (at most 251).
pub(crate) const MAX_PRECISION: u32 = 2;

/// Buckets at [`MAX_PRECISION`].
pub(crate) const FINEST_BUCKETS: usize = bucket_count(MAX_PRECISION);

/// `COARSER[p][b]`: the bucket at precision `p` that holds finest bucket `b`. Buckets at a
/// coarser precision are unions of finer ones, so an encoder counts residuals once, at the
/// finest precision, and sums the counts for the others.
pub(crate) const COARSER: [[u8; FINEST_BUCKETS]; MAX_PRECISION as usize + 1] = {
    let mut map = [[0u8; FINEST_BUCKETS]; MAX_PRECISION as usize + 1];
    let mut p = 0;
    while p <= MAX_PRECISION {
        let mut b = 0;
        while b < FINEST_BUCKETS {
            // Any value of the finest bucket will do; take its smallest.
            let (top, k) = bucket_base(b, MAX_PRECISION);
            #[expect(clippy::indexing_slicing, reason = "a const initialiser: out of bounds fails the build")]
            {
                map[p as usize][b] = bucket(top << k, p).0 as u8;
            }
            b += 1;
        }
        p += 1;
    }
    map
};

/// The bucket of `z` at precision `p` and the number of offset bits it carries.
#[inline]
pub(crate) const fn bucket(z: u64, p: u32) -> (usize, u32) {
    if z < 2 << p {
        return (z as usize, 0);
    }
    let len = 64 - z.leading_zeros();
    let offset_bits = len - 1 - p;
    let slice = (z >> offset_bits) as usize & ((1 << p) - 1);
    ((((len - p) as usize) << p) | slice, offset_bits)
}

/// The bucket number after the last valid one at precision `p`.
pub(crate) const fn bucket_count(p: u32) -> usize {
    (((64 - p) as usize) << p) + (1 << p)
}

/// What decoding bucket `b` at precision `p` needs: the value's bits above the offset, and
/// the number of offset bits. `b` must be below [`bucket_count`].
#[inline]
pub(crate) const fn bucket_base(b: usize, p: u32) -> (u64, u32) {
    if b < 2 << p {
        return (b as u64, 0);
    }
    let len = (b >> p) as u32 + p;
    let top = (1u64 << p) | (b as u64 & ((1 << p) - 1));
    (top, len - 1 - p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_lands_in_a_bucket_that_decodes_it() {
        let samples = (0..300u64)
            .chain((0..64).flat_map(|s| [1u64 << s, (1u64 << s) - 1, (1u64 << s) + 1, (3u64 << s) >> 1]))
            .chain([u64::MAX, u64::MAX - 1, 0x8000_0000_0000_0001]);
        for p in 0..=MAX_PRECISION {
            for z in samples.clone() {
                let (b, bits) = bucket(z, p);
                assert!(b < bucket_count(p), "z={z} p={p} b={b}");
                let (top, decoded_bits) = bucket_base(b, p);
                assert_eq!(bits, decoded_bits, "z={z} p={p}");
                let offset = if bits == 0 { 0 } else { z & ((1u64 << bits) - 1) };
                let back = if bits == 0 { top } else { (top << bits) | offset };
                assert_eq!(back, z, "z={z} p={p}");
            }
        }
        assert!(bucket_count(MAX_PRECISION) <= 256);
    }
}
