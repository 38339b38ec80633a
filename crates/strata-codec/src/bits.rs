//! Bit streams, least significant bit first: the writer packs codes into bytes; a reader
//! keeps only a bit position and loads the eight bytes under it for every code, so that a
//! decoder can follow two streams at once in few registers.

/// Packs bit fields into a byte vector.
#[derive(Debug)]
pub(crate) struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    /// Bits not yet written out, in the low `filled` bits.
    acc: u64,
    /// Always below 8 between calls.
    filled: u32,
}

impl<'a> BitWriter<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>) -> BitWriter<'a> {
        BitWriter { out, acc: 0, filled: 0 }
    }

    /// Appends the low `n` bits of `bits`, `n <= 56`; the other bits of `bits` must be zero.
    #[inline]
    pub(crate) fn write(&mut self, bits: u64, n: u32) {
        debug_assert!(n <= 56 && (n == 64 || bits >> n == 0));
        self.acc |= bits << self.filled;
        self.filled += n;
        let whole = self.filled / 8;
        // Writing all eight bytes and then dropping the unfinished ones avoids a length-
        // dependent copy.
        let len = self.out.len();
        self.out.extend_from_slice(&self.acc.to_le_bytes());
        self.out.truncate(len + whole as usize);
        // `filled` is at most 7 + 56 = 63, so `whole` is at most 7 and the shift below 64.
        self.acc >>= whole * 8;
        self.filled -= whole * 8;
    }

    /// Appends all 64 bits of `bits` over two writes.
    pub(crate) fn write_wide(&mut self, bits: u64, n: u32) {
        if n <= 56 {
            self.write(bits, n);
        } else {
            self.write(bits & 0xffff_ffff, 32);
            self.write(bits >> 32, n - 32);
        }
    }

    /// Writes out the last partial byte, zero-padded.
    pub(crate) fn finish(self) {
        if self.filled > 0 {
            self.out.push(self.acc as u8);
        }
    }
}

/// The bits of `stream` from bit `pos` on, first bit lowest: at least 57 meaningful bits
/// (64 less the bit offset within the first byte), zeros past the end of the stream.
#[inline(always)]
pub(crate) fn word_at(stream: &[u8], pos: u64) -> u64 {
    let byte = (pos >> 3) as usize;
    let word = match stream.get(byte..).and_then(|rest| rest.first_chunk::<8>()) {
        Some(chunk) => u64::from_le_bytes(*chunk),
        None => tail_word(stream, byte),
    };
    word >> (pos & 7)
}

/// The eight bytes at `next` when fewer than eight remain, zero-padded. A free function
/// taking copies, so that calling it does not force the reader's state out of registers.
#[cold]
#[inline(never)]
fn tail_word(bytes: &[u8], next: usize) -> u64 {
    let mut buf = [0u8; 8];
    let rest = bytes.get(next..).unwrap_or_default();
    for (slot, byte) in buf.iter_mut().zip(rest) {
        *slot = *byte;
    }
    u64::from_le_bytes(buf)
}

/// The low `n` bits set, `n <= 64`.
#[inline]
pub(crate) fn mask(n: u32) -> u64 {
    if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
}
