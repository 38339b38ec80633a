//! The parsed form of one line.

use std::borrow::Cow;

/// One parsed line. Text borrows from the input unless it held an escape.
///
/// A `Line` can be reused across calls to [`Parser::next_into`](crate::Parser::next_into) so that
/// parsing a stream allocates nothing once the vectors have grown.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Line<'a> {
    /// 1-based line number in the input.
    pub number: usize,
    /// The measurement, unescaped.
    pub measurement: Cow<'a, str>,
    /// Tags in the order written.
    pub tags: Vec<Tag<'a>>,
    /// Fields in the order written; never empty for a parsed line.
    pub fields: Vec<Field<'a>>,
    /// Nanoseconds since the Unix epoch: the line's own timestamp converted from the write's
    /// precision, else the write's default time, else `None`.
    pub timestamp: Option<i64>,
    /// The measurement and tag set exactly as written, escapes included. Two lines with equal
    /// `series_text` have the same measurement and tags in the same order; callers use it as a
    /// cheap cache key for series lookups.
    pub series_text: &'a str,
}

/// A tag key and value, unescaped.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tag<'a> {
    pub key: Cow<'a, str>,
    pub value: Cow<'a, str>,
}

/// A field key, unescaped, and its typed value.
#[derive(Debug, Clone, PartialEq)]
pub struct Field<'a> {
    pub key: Cow<'a, str>,
    pub value: FieldValue<'a>,
}

/// A field value of one of the five line protocol types.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    /// A finite f64 (`1.5`, `-3e7`).
    Float(f64),
    /// A signed integer (`42i`).
    Integer(i64),
    /// An unsigned integer (`42u`).
    Unsigned(u64),
    /// A boolean (`t`, `true`, `F`, ...).
    Boolean(bool),
    /// A string (`"text"`), unescaped.
    String(Cow<'a, str>),
}

impl<'a> Line<'a> {
    /// Empties the line, keeping the vectors' capacity.
    #[inline]
    pub fn clear(&mut self) {
        self.number = 0;
        self.measurement = Cow::Borrowed("");
        self.tags.clear();
        self.fields.clear();
        self.timestamp = None;
        self.series_text = "";
    }

    /// The value of the tag named `key`, if the line has it.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.iter().find(|t| t.key == key).map(|t| t.value.as_ref())
    }

    /// The value of the field named `key`, if the line has it.
    pub fn field(&self, key: &str) -> Option<&FieldValue<'a>> {
        self.fields.iter().find(|f| f.key == key).map(|f| &f.value)
    }

    /// A copy that owns all its text and so outlives the input.
    pub fn into_owned(self) -> Line<'static> {
        Line {
            number: self.number,
            measurement: Cow::Owned(self.measurement.into_owned()),
            tags: self
                .tags
                .into_iter()
                .map(|t| Tag { key: Cow::Owned(t.key.into_owned()), value: Cow::Owned(t.value.into_owned()) })
                .collect(),
            fields: self
                .fields
                .into_iter()
                .map(|f| Field { key: Cow::Owned(f.key.into_owned()), value: f.value.into_owned() })
                .collect(),
            timestamp: self.timestamp,
            // The raw text is only meaningful against the input it came from.
            series_text: "",
        }
    }
}

impl FieldValue<'_> {
    /// The value as f64 if it is numeric: floats as they are, integers converted (rounding to the
    /// nearest f64 beyond 2^53). Booleans and strings give `None`.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            FieldValue::Float(v) => Some(v),
            FieldValue::Integer(v) => Some(v as f64),
            FieldValue::Unsigned(v) => Some(v as f64),
            FieldValue::Boolean(_) | FieldValue::String(_) => None,
        }
    }

    /// The type's name as operators read it in errors: `float`, `integer`, `unsigned`, `boolean`, `string`.
    pub fn type_name(&self) -> &'static str {
        match self {
            FieldValue::Float(_) => "float",
            FieldValue::Integer(_) => "integer",
            FieldValue::Unsigned(_) => "unsigned",
            FieldValue::Boolean(_) => "boolean",
            FieldValue::String(_) => "string",
        }
    }

    /// A copy that owns its text.
    pub fn into_owned(self) -> FieldValue<'static> {
        match self {
            FieldValue::Float(v) => FieldValue::Float(v),
            FieldValue::Integer(v) => FieldValue::Integer(v),
            FieldValue::Unsigned(v) => FieldValue::Unsigned(v),
            FieldValue::Boolean(v) => FieldValue::Boolean(v),
            FieldValue::String(s) => FieldValue::String(Cow::Owned(s.into_owned())),
        }
    }
}
