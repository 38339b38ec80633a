//! Line protocol input in blocks of whole lines: what `lp parse`, `write` and `demo` share.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use anyhow::Context as _;

/// Opens `file`, or standard input for `-` or none; with the file's size when known.
pub(crate) fn open_input(file: Option<&Path>) -> anyhow::Result<(Box<dyn Read>, Option<u64>)> {
    match file {
        Some(p) if p.as_os_str() != "-" => {
            let f = File::open(p).with_context(|| format!("cannot open {}", p.display()))?;
            let len = f.metadata().ok().map(|m| m.len());
            Ok((Box::new(f), len))
        }
        _ => Ok((Box::new(io::stdin().lock()), None)),
    }
}

/// A line longer than a reader takes: reading stopped there, and what came before was handled.
#[derive(Debug, thiserror::Error)]
#[error(
    "line {line} is longer than {max} bytes (the most one write takes); the lines before it were handled, the rest of the input was not read"
)]
pub(crate) struct LineTooLong {
    pub(crate) line: usize,
    pub(crate) max: usize,
}

/// Reads `input` in blocks of about `size` bytes, each cut after its last complete line (the
/// tail waits for the next block), and calls `f(block, lines_before, bytes_read)`. Memory stays
/// bounded by a block plus one line of at most `max_line` bytes, whatever the input's size: a
/// longer line stops the reading with [`LineTooLong`] before more of it is read.
pub(crate) fn for_each_block(
    input: &mut dyn Read,
    size: usize,
    max_line: usize,
    mut f: impl FnMut(&[u8], usize, u64) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let (mut buf, mut read, mut lines_before) = (Vec::with_capacity(2 * size), 0u64, 0usize);
    loop {
        let n = input.take(size as u64).read_to_end(&mut buf).context("cannot read the input")?;
        read += n as u64;
        let end = match n {
            0 => buf.len(),
            _ => buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1),
        };
        if end > 0 {
            let block = &buf[..end];
            f(block, lines_before, read)?;
            lines_before += memchr::memchr_iter(b'\n', block).count();
            buf.drain(..end);
        }
        if buf.len() > max_line {
            return Err(LineTooLong { line: lines_before + 1, max: max_line }.into());
        }
        if n == 0 {
            return Ok(());
        }
    }
}

/// Cuts in-memory `data` into blocks of whole lines of about `size` bytes.
pub(crate) fn split_lines(data: &[u8], size: usize) -> Vec<&[u8]> {
    let mut blocks = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let end = match rest.get(size..) {
            Some(after) => after.iter().position(|&b| b == b'\n').map_or(rest.len(), |i| size + i + 1),
            None => rest.len(),
        };
        let (block, tail) = rest.split_at(end);
        blocks.push(block);
        rest = tail;
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_end_at_lines_and_count_them() {
        let data = b"a 1\nbb 2\nccc 3\ndddd".to_vec();
        let mut seen = Vec::new();
        for_each_block(&mut data.as_slice(), 5, 64, |block, before, _| {
            seen.push((String::from_utf8(block.to_vec())?, before));
            Ok(())
        })
        .unwrap();
        let joined: String = seen.iter().map(|(b, _)| b.as_str()).collect();
        assert_eq!(joined, "a 1\nbb 2\nccc 3\ndddd");
        assert!(seen.iter().all(|(b, _)| b.ends_with('\n') || b == "dddd"));
        let lines_before: Vec<usize> = seen.iter().map(|&(_, n)| n).collect();
        assert_eq!(*lines_before.last().unwrap(), 3);
        assert_eq!(split_lines(b"a 1\nbb 2\nccc 3\n", 5), [&b"a 1\nbb 2\n"[..], b"ccc 3\n"]);
    }
}
