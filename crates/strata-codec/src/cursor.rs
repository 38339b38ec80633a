//! Reading a chunk's byte-aligned fields with bounds checks: every read of damaged bytes
//! ends in an error naming the section and offset, never a panic.

use crate::error::CodecError;

/// A position in a chunk being read.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor { bytes, pos: 0 }
    }

    /// Bytes not yet read.
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    pub(crate) fn truncated(&self, section: &'static str) -> CodecError {
        CodecError::Truncated { section, offset: self.pos, len: self.bytes.len() }
    }

    pub(crate) fn corrupt(&self, section: &'static str, reason: &'static str) -> CodecError {
        CodecError::corrupt(section, self.pos, reason)
    }

    pub(crate) fn u8(&mut self, section: &'static str) -> Result<u8, CodecError> {
        let byte = *self.bytes.get(self.pos).ok_or_else(|| self.truncated(section))?;
        self.pos += 1;
        Ok(byte)
    }

    pub(crate) fn i64_le(&mut self, section: &'static str) -> Result<i64, CodecError> {
        let bytes = self.take(8, section)?;
        let array: [u8; 8] = bytes.try_into().map_err(|_| self.truncated(section))?;
        Ok(i64::from_le_bytes(array))
    }

    pub(crate) fn u64_le(&mut self, section: &'static str) -> Result<u64, CodecError> {
        self.i64_le(section).map(|v| v as u64)
    }

    /// The next `len` bytes.
    pub(crate) fn take(&mut self, len: usize, section: &'static str) -> Result<&'a [u8], CodecError> {
        let end = self.pos.checked_add(len).ok_or_else(|| self.truncated(section))?;
        let bytes = self.bytes.get(self.pos..end).ok_or_else(|| self.truncated(section))?;
        self.pos = end;
        Ok(bytes)
    }

    /// An unsigned LEB128 varint; more than 10 bytes or bits beyond the 64th are corruption.
    pub(crate) fn varint(&mut self, section: &'static str) -> Result<u64, CodecError> {
        let start = self.pos;
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8(section)?;
            let bits = u64::from(byte & 0x7f);
            // The tenth byte holds only the 64th bit.
            if shift == 63 && bits > 1 {
                return Err(CodecError::corrupt(section, start, "varint overflows 64 bits"));
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(CodecError::corrupt(section, start, "varint longer than 10 bytes"))
    }

    /// A zigzagged varint.
    pub(crate) fn varint_i64(&mut self, section: &'static str) -> Result<i64, CodecError> {
        self.varint(section).map(crate::varint::unzigzag)
    }

    /// A varint that must be at most `max`, as a `usize`.
    pub(crate) fn varint_at_most(
        &mut self,
        max: u64,
        section: &'static str,
        reason: &'static str,
    ) -> Result<usize, CodecError> {
        let start = self.pos;
        let value = self.varint(section)?;
        if value > max {
            return Err(CodecError::corrupt(section, start, reason));
        }
        usize::try_from(value).map_err(|_| CodecError::corrupt(section, start, reason))
    }
}
