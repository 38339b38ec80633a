//! A file decoded a piece at a time: the decoders of `decode.rs` (`&mut &[u8]` in, the slice
//! advanced) run over a window of the file that is read ahead as they consume it, so a
//! checkpoint of 12 MB is loaded through a buffer of about 1 MB rather than read whole beside
//! the chunks it holds.

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

use std::io::{self, Read};

/// Bytes read ahead at a time.
const PIECE: usize = 1 << 20;

/// The window of a file being decoded.
pub(crate) struct Piecewise<'r> {
    read: &'r mut dyn Read,
    buf: Vec<u8>,
    /// Bytes of `buf` already decoded.
    start: usize,
    /// Bytes of the file not read into `buf` yet.
    left: u64,
}

/// Why decoding a file piecewise stopped: its bytes were not read, or were not right.
#[derive(Debug)]
pub(crate) enum PieceError<E> {
    Io(io::Error),
    Decode(E),
}

impl<'r> Piecewise<'r> {
    /// Decodes the next `len` bytes of `read`.
    pub(crate) fn new(read: &'r mut dyn Read, len: u64) -> Piecewise<'r> {
        Piecewise { read, buf: Vec::new(), start: 0, left: len }
    }

    /// Bytes not decoded yet.
    pub(crate) fn remaining(&self) -> u64 {
        self.buf.len().saturating_sub(self.start) as u64 + self.left
    }

    /// Runs `decode` on the bytes not decoded yet and advances past what it took. It sees a
    /// window of them: if it fails while more of the file is left, the window is grown (twice
    /// as long each time) and `decode` runs again, so a decoder must not depend on anything
    /// but its input. Its error stands once the window holds the rest of the file.
    pub(crate) fn decode<T, E>(
        &mut self,
        mut decode: impl FnMut(&mut &[u8]) -> Result<T, E>,
    ) -> Result<T, PieceError<E>> {
        loop {
            let window = self.buf.get(self.start..).unwrap_or_default();
            let mut input = window;
            match decode(&mut input) {
                Ok(value) => {
                    self.start += window.len() - input.len();
                    return Ok(value);
                }
                Err(e) if self.left == 0 => return Err(PieceError::Decode(e)),
                Err(_) => self.read_more().map_err(PieceError::Io)?,
            }
        }
    }

    /// Drops the bytes decoded and reads at least as many again as the window holds (at
    /// least a piece), up to the end.
    fn read_more(&mut self) -> io::Result<()> {
        self.buf.drain(..self.start.min(self.buf.len()));
        self.start = 0;
        let want = (self.buf.len().max(PIECE) as u64).min(self.left);
        let before = self.buf.len();
        (&mut *self.read).take(want).read_to_end(&mut self.buf)?;
        let got = (self.buf.len() - before) as u64;
        if got < want {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the file is shorter than its length"));
        }
        self.left -= got;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic")]
mod tests {
    use super::*;
    use crate::decode::{Malformed, get_u32};

    #[test]
    fn decoders_see_a_window_that_grows_until_they_succeed_or_the_file_ends() {
        // A long record, longer than a piece, then a short one.
        let mut file = Vec::new();
        let long = PIECE * 3 + 5;
        file.extend_from_slice(&(long as u32).to_le_bytes());
        file.extend((0..long).map(|i| i as u8));
        file.extend_from_slice(&7u32.to_le_bytes());
        let record = |input: &mut &[u8]| -> Result<usize, Malformed> {
            let len = get_u32(input)? as usize;
            let body = input.get(..len).ok_or("short")?;
            *input = &input[len..];
            Ok(body.len())
        };
        let mut read = file.as_slice();
        let mut source = Piecewise::new(&mut read, file.len() as u64);
        assert_eq!(source.decode(record).unwrap(), long);
        assert_eq!(source.remaining(), 4);
        assert_eq!(source.decode(get_u32).unwrap(), 7);
        assert_eq!(source.remaining(), 0);
        assert!(matches!(source.decode(get_u32), Err(PieceError::Decode(_))));
        // A file shorter than it claims to be.
        let mut read = &file[..10];
        let mut source = Piecewise::new(&mut read, file.len() as u64);
        assert!(matches!(source.decode(record), Err(PieceError::Io(_))));
    }
}
