//! Reading the engine's own binary encodings (WAL payloads, series keys, checkpoints, sealed
//! chunks): the typed error for bytes that do not decode, and the little-endian cursor the
//! decoders share. Callers attach the file and offset (`Error::Corrupt`) or the series
//! (`Error::DamagedChunk`) the bytes came from.

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

/// Bytes that do not decode, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Malformed(pub(crate) String);

impl From<&str> for Malformed {
    fn from(reason: &str) -> Malformed {
        Malformed(reason.to_owned())
    }
}

impl From<String> for Malformed {
    fn from(reason: String) -> Malformed {
        Malformed(reason)
    }
}

/// Reads a little-endian u32, advancing `input`.
pub(crate) fn get_u32(input: &mut &[u8]) -> Result<u32, Malformed> {
    let (head, rest) = input.split_first_chunk::<4>().ok_or("truncated: expected a u32")?;
    *input = rest;
    Ok(u32::from_le_bytes(*head))
}

/// Reads a little-endian u64, advancing `input`.
pub(crate) fn get_u64(input: &mut &[u8]) -> Result<u64, Malformed> {
    let (head, rest) = input.split_first_chunk::<8>().ok_or("truncated: expected a u64")?;
    *input = rest;
    Ok(u64::from_le_bytes(*head))
}

/// Reads a u32-length-prefixed UTF-8 string, advancing `input`.
pub(crate) fn get_str(input: &mut &[u8]) -> Result<String, Malformed> {
    let len = get_u32(input)? as usize;
    if len > input.len() {
        return Err(format!("truncated: a string of {len} bytes with {} left", input.len()).into());
    }
    let (bytes, rest) = input.split_at(len);
    *input = rest;
    String::from_utf8(bytes.to_vec()).map_err(|_| "a string is not UTF-8".into())
}
