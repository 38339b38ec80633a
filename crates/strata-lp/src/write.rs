//! The serializer: writes lines that this crate (and InfluxDB) parse back to the same values.

use std::fmt::Write as _;

use crate::line::{FieldValue, Line};
use crate::parse::MAX_STRING_LEN;

/// A value that line protocol cannot carry.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    #[error("the {what} is empty")]
    Empty { what: &'static str },
    #[error("the {what} {text:?} contains a newline, which line protocol cannot carry")]
    Newline { what: &'static str, text: String },
    #[error("the measurement {0:?} starts with '#' or a tab, so it would read back as a comment or blank")]
    MeasurementStart(String),
    #[error("a line needs at least one field")]
    NoFields,
    #[error("duplicate {what} key {key:?}")]
    Duplicate { what: &'static str, key: String },
    #[error("float field {key:?} is not finite")]
    NonFinite { key: String },
    #[error("string field {key:?} is longer than {MAX_STRING_LEN} bytes once escaped")]
    StringTooLong { key: String },
}

fn check_text(what: &'static str, text: &str) -> Result<(), WriteError> {
    if text.is_empty() {
        return Err(WriteError::Empty { what });
    }
    if text.contains('\n') {
        return Err(WriteError::Newline { what, text: text.to_owned() });
    }
    Ok(())
}

fn escape_into(out: &mut String, text: &str, escapes: &[char]) {
    for c in text.chars() {
        if escapes.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Appends a measurement, escaping commas, spaces and backslashes.
pub fn escape_measurement(out: &mut String, text: &str) {
    escape_into(out, text, &[',', ' ', '\\']);
}

/// Appends a tag key, tag value or field key, escaping commas, equals signs, spaces and backslashes.
pub fn escape_key(out: &mut String, text: &str) {
    escape_into(out, text, &[',', '=', ' ', '\\']);
}

/// Appends a string field value without its quotes, escaping double quotes and backslashes.
pub fn escape_string(out: &mut String, text: &str) {
    escape_into(out, text, &['"', '\\']);
}

/// Appends a field value in line protocol syntax. Floats are written in their shortest form
/// that reads back to the same bits.
pub fn write_field_value(out: &mut String, value: &FieldValue<'_>) {
    // `write!` to a String cannot fail.
    let _ = match value {
        FieldValue::Float(v) => write!(out, "{v:?}"),
        FieldValue::Integer(v) => write!(out, "{v}i"),
        FieldValue::Unsigned(v) => write!(out, "{v}u"),
        FieldValue::Boolean(v) => write!(out, "{v}"),
        FieldValue::String(s) => {
            out.push('"');
            escape_string(out, s);
            out.push('"');
            Ok(())
        }
    };
}

impl Line<'_> {
    /// Appends this line to `out`, newline included, with the timestamp in nanoseconds.
    ///
    /// # Errors
    /// A [`WriteError`] when the line holds something line protocol cannot represent (empty or
    /// multi-line text, a non-finite float, duplicate keys); nothing is appended then.
    pub fn write_to(&self, out: &mut String) -> Result<(), WriteError> {
        self.validate()?;
        escape_measurement(out, &self.measurement);
        for tag in &self.tags {
            out.push(',');
            escape_key(out, &tag.key);
            out.push('=');
            escape_key(out, &tag.value);
        }
        for (n, field) in self.fields.iter().enumerate() {
            out.push(if n == 0 { ' ' } else { ',' });
            escape_key(out, &field.key);
            out.push('=');
            write_field_value(out, &field.value);
        }
        if let Some(ts) = self.timestamp {
            let _ = write!(out, " {ts}");
        }
        out.push('\n');
        Ok(())
    }

    fn validate(&self) -> Result<(), WriteError> {
        check_text("measurement", &self.measurement)?;
        if self.measurement.starts_with(['#', '\t']) {
            return Err(WriteError::MeasurementStart(self.measurement.to_string()));
        }
        for (n, tag) in self.tags.iter().enumerate() {
            check_text("tag key", &tag.key)?;
            check_text("tag value", &tag.value)?;
            if self.tags.iter().take(n).any(|t| t.key == tag.key) {
                return Err(WriteError::Duplicate { what: "tag", key: tag.key.to_string() });
            }
        }
        if self.fields.is_empty() {
            return Err(WriteError::NoFields);
        }
        for (n, field) in self.fields.iter().enumerate() {
            check_text("field key", &field.key)?;
            if self.fields.iter().take(n).any(|f| f.key == field.key)
                || self.tags.iter().any(|t| t.key == field.key)
            {
                return Err(WriteError::Duplicate { what: "field", key: field.key.to_string() });
            }
            match &field.value {
                FieldValue::Float(v) if !v.is_finite() => {
                    return Err(WriteError::NonFinite { key: field.key.to_string() });
                }
                FieldValue::String(s) => {
                    // "" is a valid string value, so only newlines and length are checked.
                    if s.contains('\n') {
                        return Err(WriteError::Newline { what: "string field", text: s.to_string() });
                    }
                    let escaped_len = s.len() + s.bytes().filter(|&b| b == b'"' || b == b'\\').count();
                    if escaped_len > MAX_STRING_LEN {
                        return Err(WriteError::StringTooLong { key: field.key.to_string() });
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}
