//! The generator's one error type.

use std::fmt;
use std::io;

/// Why a workload could not be generated.
#[non_exhaustive]
#[derive(Debug)]
pub enum GenError {
    /// A [`GenConfig`](crate::GenConfig) field holds a value the generator cannot use.
    InvalidConfig {
        /// The field's name as written in `GenConfig`.
        field: &'static str,
        /// The value it holds, as Rust debug-prints it.
        value: String,
        /// What the value must be instead.
        reason: &'static str,
    },
    /// [`generate`](crate::generate) could not reserve memory for the whole workload; stream it
    /// with [`write_all`](crate::write_all) instead.
    TooLarge {
        /// The bytes that were to be reserved.
        bytes: u64,
    },
    /// Writing the output failed.
    Io(io::Error),
}

impl GenError {
    pub(crate) fn invalid(field: &'static str, value: impl fmt::Debug, reason: &'static str) -> Self {
        GenError::InvalidConfig { field, value: format!("{value:?}"), reason }
    }
}

impl fmt::Display for GenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GenError::InvalidConfig { field, value, reason } => {
                write!(f, "invalid generator config: {field} = {value}: {reason}")
            }
            GenError::TooLarge { bytes } => write!(
                f,
                "cannot hold the {bytes} bytes of the workload in memory; write it to a stream instead"
            ),
            GenError::Io(e) => write!(f, "writing the generated workload failed: {e}"),
        }
    }
}

impl std::error::Error for GenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GenError::Io(e) => Some(e),
            GenError::InvalidConfig { .. } | GenError::TooLarge { .. } => None,
        }
    }
}

impl From<io::Error> for GenError {
    fn from(e: io::Error) -> Self {
        GenError::Io(e)
    }
}
