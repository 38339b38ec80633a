//! LEB128 varints and zigzag: small magnitudes of either sign take few bytes.

/// Appends `value` as an unsigned LEB128 varint: 7 bits a byte, low bits first, the high bit
/// set on every byte but the last. At most 10 bytes.
pub(crate) fn put_u64(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends `value` zigzagged, then as a varint.
pub(crate) fn put_i64(out: &mut Vec<u8>, value: i64) {
    put_u64(out, zigzag(value));
}

/// Bytes `put_u64` takes for `value`.
pub(crate) fn len_u64(value: u64) -> usize {
    let bits = 64 - (value | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Maps 0, -1, 1, -2, ... to 0, 1, 2, 3, ...: the magnitude decides the bit length, whatever
/// the sign. Wrapping, so every `i64` has an image.
#[inline]
pub(crate) fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

/// The inverse of [`zigzag`].
#[inline]
pub(crate) fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}
