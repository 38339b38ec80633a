//! The payload of one WAL record: the points of one write, and the definitions of the series
//! they use that no applied record has defined yet.
//!
//! ```text
//! u8      version = 2, or 3 for a record that retires series (version 1 has no flags and
//!         no source)
//! u8      (v2) flags: bit 0 set when a stream source follows; (v3) bit 1 when a retirement
//!         follows
//!         (v2, bit 0) u32 length + stream name (UTF-8), u64 sequence
//!         (v3, bit 1) i64 hot's evicted_until when the series retired, u32 n, n x u32 id,
//!         u32 m, m x (u32 from, u32 to): live series moved to lower ids
//! u32     definitions, then per definition: u32 series id, series key (see SeriesKey::encode)
//! u32     n points, then n x u32 series id, n x i64 time (ns), n x u64 value bits, all LE
//! ```

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

use std::sync::Arc;

use crate::decode::{Malformed, get_str, get_u32, get_u64};
use crate::series::{SeriesId, SeriesKey};
use crate::streams::StreamSequence;

/// The version of a record that retires no series: builds before version 3 read every
/// record but those that retire series.
const VERSION: u8 = 2;
/// The version of a record that retires series (flag bit [`RETIRES`]).
const RETIRING_VERSION: u8 = 3;
/// Flag bit: the record carries a stream source (`streams.rs`).
const HAS_SOURCE: u8 = 1;
/// Flag bit (version 3): the record retires series (`compactor/retire.rs`).
const RETIRES: u8 = 2;
/// The payload versions this build decodes.
pub(crate) const READABLE_VERSIONS: std::ops::RangeInclusive<u32> = 1..=RETIRING_VERSION as u32;

/// Why a record payload does not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PayloadError {
    Malformed(Malformed),
    /// A payload version this build does not read (the segment's own version was readable).
    Version(u32),
}

impl<T: Into<Malformed>> From<T> for PayloadError {
    fn from(reason: T) -> PayloadError {
        PayloadError::Malformed(reason.into())
    }
}

/// A decoded (or to be encoded) write.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Batch {
    pub(crate) definitions: Vec<(SeriesId, Arc<SeriesKey>)>,
    pub(crate) ids: Vec<SeriesId>,
    pub(crate) times: Vec<i64>,
    pub(crate) values: Vec<f64>,
    /// The stream message this write is, for exactly-once ingest.
    pub(crate) source: Option<StreamSequence>,
    /// Series that leave the index at this record (`compactor/retire.rs`).
    pub(crate) retire: Option<Retirement>,
}

/// Series retired at one record: none of their points was left in hot, and their ids may be
/// handed to new series from the next record on.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Retirement {
    /// Hot's `evicted_until` when they retired: every window before it had been evicted, so
    /// a replay that put such windows back evicts them again.
    pub(crate) evicted_until: i64,
    pub(crate) ids: Vec<SeriesId>,
    /// Live series moved, after the retirement, from a high id to a free lower one, so the
    /// tables indexed by id shrink to the live series (`series/retire.rs`).
    pub(crate) moves: Vec<(SeriesId, SeriesId)>,
}

impl Batch {
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    pub(crate) fn push(&mut self, id: SeriesId, time: i64, value: f64) {
        self.ids.push(id);
        self.times.push(time);
        self.values.push(value);
    }

    /// The record's bytes, with `self.definitions`.
    #[cfg(test)]
    pub(crate) fn encode(&self) -> Vec<u8> {
        self.encode_defining(self.definitions.len(), |out| {
            for (id, key) in &self.definitions {
                out.extend_from_slice(&id.to_le_bytes());
                key.encode(out);
            }
        })
    }

    /// The record's bytes, with `count` definitions that `put` appends (each a u32 id and a
    /// key in `SeriesKey::encode`'s form): the write path encodes them straight from the index.
    pub(crate) fn encode_defining(&self, count: usize, put: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        // Exactly the bytes written but the definitions' (guessed): a byte short doubles a
        // buffer of a megabyte, which the log holds until the record is written.
        let source = self.source.as_ref().map_or(0, |s| 12 + s.stream.len());
        let retiring = self.retire.as_ref().map_or(0, |r| 16 + r.ids.len() * 4 + r.moves.len() * 8);
        let mut out = Vec::with_capacity(10 + source + retiring + self.len() * 20 + count * 96);
        out.push(if self.retire.is_some() { RETIRING_VERSION } else { VERSION });
        let flags = if self.source.is_some() { HAS_SOURCE } else { 0 }
            | if self.retire.is_some() { RETIRES } else { 0 };
        out.push(flags);
        if let Some(source) = &self.source {
            out.extend_from_slice(&len_u32(source.stream.len()).to_le_bytes());
            out.extend_from_slice(source.stream.as_bytes());
            out.extend_from_slice(&source.sequence.to_le_bytes());
        }
        if let Some(retire) = &self.retire {
            out.extend_from_slice(&retire.evicted_until.to_le_bytes());
            out.extend_from_slice(&len_u32(retire.ids.len()).to_le_bytes());
            for id in &retire.ids {
                out.extend_from_slice(&id.to_le_bytes());
            }
            out.extend_from_slice(&len_u32(retire.moves.len()).to_le_bytes());
            for (from, to) in &retire.moves {
                out.extend_from_slice(&from.to_le_bytes());
                out.extend_from_slice(&to.to_le_bytes());
            }
        }
        out.extend_from_slice(&len_u32(count).to_le_bytes());
        put(&mut out);
        out.extend_from_slice(&len_u32(self.len()).to_le_bytes());
        for id in &self.ids {
            out.extend_from_slice(&id.to_le_bytes());
        }
        put_columns(&mut out, &self.times, &self.values);
        out
    }

    pub(crate) fn decode(mut input: &[u8]) -> Result<Batch, PayloadError> {
        let input = &mut input;
        let (&version, rest) = input.split_first().ok_or("empty record")?;
        *input = rest;
        // Every version this build reads decodes below. The WAL segment's own version is
        // checked first, so this refuses only a payload version bumped alone.
        if !READABLE_VERSIONS.contains(&u32::from(version)) {
            return Err(PayloadError::Version(u32::from(version)));
        }
        let (mut source, mut retire) = (None, None);
        if version >= 2 {
            let (&flags, rest) = input.split_first().ok_or("no flags")?;
            *input = rest;
            let known = if version >= 3 { HAS_SOURCE | RETIRES } else { HAS_SOURCE };
            if flags & !known != 0 {
                return Err(format!("unknown flags {flags:#04x}").into());
            }
            if flags & HAS_SOURCE != 0 {
                let stream = get_str(input)?;
                source = Some(StreamSequence { stream, sequence: get_u64(input)? });
            }
            if flags & RETIRES != 0 {
                let evicted_until = get_u64(input)?.cast_signed();
                let n = get_u32(input)? as usize;
                if n > input.len() / 4 {
                    return Err(format!("{n} retired series cannot fit in {} bytes", input.len()).into());
                }
                let ids = (0..n).map(|_| get_u32(&mut *input)).collect::<Result<Vec<_>, _>>()?;
                let m = get_u32(input)? as usize;
                if m > input.len() / 8 {
                    return Err(format!("{m} moved series cannot fit in {} bytes", input.len()).into());
                }
                let moves = (0..m)
                    .map(|_| Ok((get_u32(&mut *input)?, get_u32(&mut *input)?)))
                    .collect::<Result<Vec<_>, Malformed>>()?;
                retire = Some(Retirement { evicted_until, ids, moves });
            }
        }
        let definitions = get_u32(input)? as usize;
        if definitions > input.len() / 16 {
            return Err(
                format!("{definitions} series definitions cannot fit in {} bytes", input.len()).into()
            );
        }
        let mut batch =
            Batch { definitions: Vec::with_capacity(definitions), source, retire, ..Batch::default() };
        for _ in 0..definitions {
            let id = get_u32(input)?;
            batch.definitions.push((id, Arc::new(SeriesKey::decode(input)?)));
        }
        let n = get_u32(input)? as usize;
        if input.len() != n * 20 {
            return Err(format!("{n} points need {} bytes, the record has {}", n * 20, input.len()).into());
        }
        let (ids, columns) = input.split_at(n * 4);
        batch.ids = ids.chunks_exact(4).filter_map(|c| c.try_into().ok()).map(u32::from_le_bytes).collect();
        get_columns(columns, &mut batch.times, &mut batch.values);
        Ok(batch)
    }
}

/// Appends the times, then the value bits, as little-endian arrays: the point columns of WAL
/// records and of raw sealed chunks.
pub(crate) fn put_columns(out: &mut Vec<u8>, times: &[i64], values: &[f64]) {
    out.extend(times.iter().flat_map(|t| t.to_le_bytes()));
    out.extend(values.iter().flat_map(|v| v.to_bits().to_le_bytes()));
}

/// Reads what [`put_columns`] wrote; `bytes` holds exactly 16 bytes per point (callers check).
pub(crate) fn get_columns(bytes: &[u8], times: &mut Vec<i64>, values: &mut Vec<f64>) {
    let (t, v) = bytes.split_at(bytes.len() / 2);
    times.extend(t.chunks_exact(8).filter_map(|c| c.try_into().ok()).map(i64::from_le_bytes));
    values.extend(
        v.chunks_exact(8).filter_map(|c| c.try_into().ok()).map(|b| f64::from_bits(u64::from_le_bytes(b))),
    );
}

fn len_u32(n: usize) -> u32 {
    // Writes are bounded by limits.max_write_size, far below 2^32 points or series.
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic")]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let key = Arc::new(
            SeriesKey::from_parts("m", "value", [("hostname", "a")].into_iter(), Some("c")).unwrap(),
        );
        let source = Some(StreamSequence { stream: "nats:metrics".into(), sequence: 42 });
        let mut batch = Batch { definitions: vec![(7, key)], source, ..Batch::default() };
        batch.push(7, 1_000, 1.5);
        batch.push(7, -5, -0.0);
        let bytes = batch.encode();
        let back = Batch::decode(&bytes).unwrap();
        assert_eq!(back.definitions, batch.definitions);
        assert_eq!(back.ids, batch.ids);
        assert_eq!(back.source, batch.source);
        assert_eq!(back.times, batch.times);
        assert_eq!(back.values[1].to_bits(), (-0.0f64).to_bits());
        for cut in 0..bytes.len() {
            assert!(Batch::decode(bytes.get(..cut).unwrap()).is_err(), "cut at {cut}");
        }
        let mut newer = bytes.clone();
        newer[0] = RETIRING_VERSION + 1;
        let err = Batch::decode(&newer).unwrap_err();
        assert_eq!(err, PayloadError::Version(u32::from(RETIRING_VERSION) + 1));
        newer[0] = 0;
        assert_eq!(Batch::decode(&newer).unwrap_err(), PayloadError::Version(0));
    }

    /// Version 1 (no flags byte) still decodes; unknown flags are damage.
    #[test]
    fn version_1_decodes_and_unknown_flags_are_refused() {
        let mut batch = Batch::default();
        batch.push(3, 10, 2.5);
        let v2 = batch.encode();
        assert_eq!(v2[..2], [2, 0]);
        let mut v1 = vec![1];
        v1.extend_from_slice(&v2[2..]);
        let back = Batch::decode(&v1).unwrap();
        assert_eq!((back.ids, back.times, back.source), (vec![3], vec![10], None));
        let mut flagged = v2.clone();
        flagged[1] = 0x80;
        let err = Batch::decode(&flagged).unwrap_err();
        assert_eq!(err, PayloadError::Malformed(Malformed("unknown flags 0x80".into())));
        // The retirement flag is version 3's: in a version 2 record it is damage.
        flagged[1] = RETIRES;
        let err = Batch::decode(&flagged).unwrap_err();
        assert_eq!(err, PayloadError::Malformed(Malformed("unknown flags 0x02".into())));
    }

    /// A record that retires series is version 3; one that does not stays version 2, which
    /// builds before version 3 read.
    #[test]
    fn retirements_round_trip_as_version_3() {
        let retire = Retirement {
            evicted_until: -7_200_000_000_000,
            ids: vec![4, 0, 70_000],
            moves: vec![(90, 4), (80, 0)],
        };
        let source = Some(StreamSequence { stream: "s".into(), sequence: 9 });
        let batch = Batch { retire: Some(retire.clone()), source, ..Batch::default() };
        let bytes = batch.encode();
        assert_eq!(bytes[..2], [RETIRING_VERSION, HAS_SOURCE | RETIRES]);
        let back = Batch::decode(&bytes).unwrap();
        assert_eq!(back.len(), 0);
        assert_eq!((back.retire, back.source), (Some(retire), batch.source));
        for cut in 0..bytes.len() {
            assert!(Batch::decode(bytes.get(..cut).unwrap()).is_err(), "cut at {cut}");
        }
        assert_eq!(Batch::default().encode()[0], VERSION);
        // The layout, byte for byte (a change is a version bump).
        let retire = Retirement { evicted_until: 0x0102, ids: vec![7, 0x0100_0000], moves: vec![(9, 7)] };
        let bytes = Batch { retire: Some(retire), ..Batch::default() }.encode();
        #[rustfmt::skip]
        let want = [
            3, 2,                               // version 3, flags: retires
            2, 1, 0, 0, 0, 0, 0, 0,             // evicted_until
            2, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 1, // two ids
            1, 0, 0, 0, 9, 0, 0, 0, 7, 0, 0, 0, // one move: 9 to 7
            0, 0, 0, 0,                         // no definitions
            0, 0, 0, 0,                         // no points
        ];
        assert_eq!(bytes, want);
    }
}
