//! Parse errors: each names the line, the byte column and the reason.

/// A line that was rejected. The lines after it are still parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {kind}")]
pub struct ParseError {
    /// 1-based line number in the input.
    pub line: usize,
    /// 1-based byte column within the line where the fault was found.
    pub column: usize,
    /// What is wrong.
    pub kind: ErrorKind,
}

/// Why a line was rejected, in words an operator understands.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    #[error("line is not valid UTF-8")]
    InvalidUtf8,
    #[error("missing measurement: the line starts with {0:?}")]
    MissingMeasurement(char),
    #[error("missing fields: a line needs at least one field after the measurement and tags")]
    MissingFields,
    #[error("expected a tag key after ','")]
    EmptyTagKey,
    #[error("tag key \"{key}\" is not followed by '=' and a value")]
    MissingTagEquals { key: String },
    #[error("tag \"{key}\" has an empty value")]
    EmptyTagValue { key: String },
    #[error("tag \"{key}\" has an unescaped '=' in its value (write it as '\\=')")]
    EqualsInTagValue { key: String },
    #[error("duplicate tag key \"{key}\"")]
    DuplicateTag { key: String },
    #[error("expected a field key")]
    EmptyFieldKey,
    #[error("field key \"{key}\" is not followed by '=' and a value")]
    MissingFieldEquals { key: String },
    #[error("field \"{key}\" has no value")]
    MissingFieldValue { key: String },
    #[error("duplicate field key \"{key}\"")]
    DuplicateField { key: String },
    #[error("field \"{key}\" has the same name as a tag")]
    FieldTagClash { key: String },
    #[error("field \"{key}\" has an invalid value {value:?}: {reason}")]
    InvalidFieldValue { key: String, value: String, reason: &'static str },
    #[error("float field \"{key}\" is not finite: NaN and infinities cannot be stored")]
    NonFiniteFloat { key: String },
    #[error("integer field \"{key}\" overflows i64")]
    IntegerOverflow { key: String },
    #[error("unsigned field \"{key}\" overflows u64")]
    UnsignedOverflow { key: String },
    #[error("unsigned field \"{key}\" is negative")]
    NegativeUnsigned { key: String },
    #[error("string field \"{key}\" has no closing quote")]
    UnterminatedString { key: String },
    #[error("more than {max} tags on one line (the parser's MAX_TAGS)")]
    TooManyTags { max: usize },
    #[error("more than {max} fields on one line (the parser's MAX_FIELDS)")]
    TooManyFields { max: usize },
    #[error("string field \"{key}\" is {len} bytes long, more than the limit of {max} bytes")]
    StringTooLong { key: String, len: usize, max: usize },
    #[error("unexpected {found:?} after the string field \"{key}\": expected ',' or ' '")]
    AfterString { key: String, found: char },
    #[error("invalid timestamp {value:?}: {reason}")]
    InvalidTimestamp { value: String, reason: &'static str },
    #[error("timestamp {value} in precision {precision} overflows i64 nanoseconds")]
    TimestampOverflow { value: i64, precision: crate::Precision },
    #[error("unexpected text {found:?} after the timestamp")]
    TrailingData { found: String },
}
