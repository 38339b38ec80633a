//! InfluxDB line protocol for strata: a zero-copy parser and a serializer. No I/O.
//!
//! The grammar and the choices strata makes where the protocol leaves room are in
//! `docs/LINE-PROTOCOL.md`. In short: every line is parsed on its own, a bad line is reported
//! with its line number, byte column and a reason and does not stop the lines after it;
//! measurement, keys and values borrow from the input unless they hold an escape.
//!
//! ```
//! use strata_lp::{FieldValue, ParseOptions, Parser, Precision};
//!
//! let input = b"# collector output\n\
//!               flops_any,cluster=fritz,hostname=f0101,type=hwthread,type-id=7 value=12.5 1763769600\n\
//!               mem_used,cluster=fritz,hostname=f0101,type=node value=1e400 1763769600\n";
//! let options = ParseOptions::with_precision(Precision::Seconds);
//! let (lines, errors): (Vec<_>, Vec<_>) = Parser::new(input, options).partition(Result::is_ok);
//!
//! let line = lines[0].as_ref().unwrap();
//! assert_eq!(line.tag("type-id"), Some("7"));
//! assert_eq!(line.fields[0].value, FieldValue::Float(12.5));
//! assert_eq!(
//!     errors[0].as_ref().unwrap_err().to_string(),
//!     "line 3, column 55: float field \"value\" is not finite: NaN and infinities cannot be stored"
//! );
//! ```

mod blocks;
mod error;
mod line;
mod number;
mod parse;
mod plain;
mod precision;
mod tokens;
mod write;

pub use error::{ErrorKind, ParseError};
pub use line::{Field, FieldValue, Line, Tag};
pub use parse::{MAX_FIELDS, MAX_STRING_LEN, MAX_TAGS, ParseOptions, Parser};
pub use precision::{Precision, UnknownPrecision};
pub use write::{WriteError, escape_key, escape_measurement, escape_string, write_field_value};
