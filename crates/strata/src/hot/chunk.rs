//! One window of one series: open (plain arrays, while a write adds points) or sealed
//! (compressed bytes behind an `Arc`), and the byte format of a sealed chunk.

use std::sync::Arc;

use crate::decode::Malformed;

/// One window of one series.
#[derive(Debug, Clone)]
pub(crate) struct Chunk {
    /// Start of the window, ns.
    pub(crate) window: i64,
    pub(crate) body: Body,
}

#[derive(Debug, Clone)]
pub(crate) enum Body {
    Open { times: Vec<i64>, values: Vec<f64> },
    Sealed(Sealed),
}

/// A compressed chunk.
#[derive(Debug, Clone)]
pub(crate) struct Sealed {
    pub(crate) bytes: Arc<[u8]>,
    pub(crate) points: u32,
}

impl Body {
    pub(super) fn points(&self) -> u64 {
        match self {
            Body::Sealed(sealed) => u64::from(sealed.points),
            Body::Open { times, .. } => times.len() as u64,
        }
    }

    pub(super) fn sealed(&self) -> Sealed {
        match self {
            Body::Sealed(sealed) => sealed.clone(),
            Body::Open { times, values } => seal(times, values),
        }
    }
}

pub(super) fn seal(times: &[i64], values: &[f64]) -> Sealed {
    let mut bytes = Vec::new();
    encode(times, values, &mut bytes);
    Sealed { bytes: bytes.into(), points: u32::try_from(times.len()).unwrap_or(u32::MAX) }
}

/// Sealed chunk bytes: a tag byte, then for `CODEC` a `strata-codec` chunk, for `RAW` (chunks
/// the codec does not take: more than `strata_codec::MAX_POINTS` points in one window) a u32
/// LE point count, the times as i64 LE and the value bits as u64 LE.
const CODEC: u8 = 0;
const RAW: u8 = 1;

pub(crate) fn encode(times: &[i64], values: &[f64], out: &mut Vec<u8>) {
    let start = out.len();
    out.push(CODEC);
    if strata_codec::encode(times, values, out).is_err() {
        out.truncate(start);
        out.push(RAW);
        out.extend_from_slice(&u32::try_from(times.len()).unwrap_or(u32::MAX).to_le_bytes());
        crate::payload::put_columns(out, times, values);
    }
}

pub(crate) fn decode(bytes: &[u8], times: &mut Vec<i64>, values: &mut Vec<f64>) -> Result<(), Malformed> {
    decode_with(&mut strata_codec::Decoder::new(), bytes, times, values)
}

/// [`decode`] with a decoder whose tables are reused across chunks.
pub(super) fn decode_with(
    decoder: &mut strata_codec::Decoder,
    bytes: &[u8],
    times: &mut Vec<i64>,
    values: &mut Vec<f64>,
) -> Result<(), Malformed> {
    match bytes.split_first() {
        Some((&CODEC, chunk)) => {
            decoder.decode(chunk, times, values).map(|_| ()).map_err(|e| Malformed(e.to_string()))
        }
        Some((&RAW, rest)) => {
            let (count, rest) = rest.split_first_chunk::<4>().ok_or("raw chunk shorter than its header")?;
            let n = u32::from_le_bytes(*count) as usize;
            if rest.len() != n * 16 {
                return Err(format!("raw chunk of {n} points has {} bytes of data", rest.len()).into());
            }
            crate::payload::get_columns(rest, times, values);
            Ok(())
        }
        Some((tag, _)) => Err(format!("sealed chunk of unknown kind {tag}").into()),
        None => Err("empty sealed chunk".into()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic")]
mod tests {
    use super::*;

    #[test]
    fn chunks_the_codec_refuses_are_kept_raw() {
        let n = strata_codec::MAX_POINTS + 1;
        let times: Vec<i64> = (0..n as i64).collect();
        let values: Vec<f64> = (0..n).map(|i| i as f64 / 4.0).collect();
        let mut bytes = Vec::new();
        encode(&times, &values, &mut bytes);
        assert_eq!(bytes[0], RAW);
        let (mut t, mut v) = (Vec::new(), Vec::new());
        decode(&bytes, &mut t, &mut v).unwrap();
        assert_eq!((t, v), (times, values));
        let mut small = Vec::new();
        encode(&[1, 2], &[0.5, -0.0], &mut small);
        assert_eq!(small[0], CODEC);
        assert!(decode(&small[..small.len() - 1], &mut Vec::new(), &mut Vec::new()).is_err());
    }
}
