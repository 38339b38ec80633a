//! Timestamp precision of a write.

use std::fmt;
use std::str::FromStr;

/// The unit of the timestamps in a write. Every parsed timestamp is converted to nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Precision {
    /// Nanoseconds (`ns`), InfluxDB's default.
    #[default]
    Nanoseconds,
    /// Microseconds (`us`).
    Microseconds,
    /// Milliseconds (`ms`).
    Milliseconds,
    /// Seconds (`s`), what cc-metric-collector sends.
    Seconds,
}

impl Precision {
    /// All precisions, finest first.
    pub const ALL: [Precision; 4] =
        [Precision::Nanoseconds, Precision::Microseconds, Precision::Milliseconds, Precision::Seconds];

    /// How many nanoseconds one unit of this precision is.
    pub const fn nanos_per_unit(self) -> i64 {
        match self {
            Precision::Nanoseconds => 1,
            Precision::Microseconds => 1_000,
            Precision::Milliseconds => 1_000_000,
            Precision::Seconds => 1_000_000_000,
        }
    }

    /// Converts a timestamp in this precision to nanoseconds, or `None` if that overflows `i64`.
    pub const fn to_nanos(self, value: i64) -> Option<i64> {
        value.checked_mul(self.nanos_per_unit())
    }

    /// The short name used on the wire and on the command line: `ns`, `us`, `ms` or `s`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Precision::Nanoseconds => "ns",
            Precision::Microseconds => "us",
            Precision::Milliseconds => "ms",
            Precision::Seconds => "s",
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A precision name that is not one of `ns`, `us`, `ms`, `s`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown precision {0:?}: expected one of ns, us, ms, s")]
pub struct UnknownPrecision(pub String);

impl FromStr for Precision {
    type Err = UnknownPrecision;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Precision::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| UnknownPrecision(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Precision::ALL {
            assert_eq!(p.as_str().parse::<Precision>(), Ok(p));
        }
        let err = "n".parse::<Precision>().unwrap_err();
        assert_eq!(err.to_string(), "unknown precision \"n\": expected one of ns, us, ms, s");
    }

    #[test]
    fn conversion_checks_overflow() {
        assert_eq!(Precision::Seconds.to_nanos(1), Some(1_000_000_000));
        assert_eq!(Precision::Seconds.to_nanos(-9_223_372_036), Some(-9_223_372_036_000_000_000));
        assert_eq!(Precision::Seconds.to_nanos(9_223_372_037), None);
        assert_eq!(Precision::Nanoseconds.to_nanos(i64::MIN), Some(i64::MIN));
    }
}
