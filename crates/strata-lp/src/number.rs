//! Numeric syntax of field values and timestamps.
//!
//! Floats take a fast path (Clinger's): a decimal with at most 19 significant digits whose
//! mantissa fits 2^53 and whose power of ten is at most 22 in magnitude is exactly
//! `mantissa * 10^e` or `mantissa / 10^e` in one correctly rounded f64 operation, because both
//! operands are exact. Everything else goes to the standard library's correctly rounded parser.

/// Why a numeric token was rejected; the caller adds the field's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumberError {
    /// Not the syntax of the type the suffix asks for.
    Syntax(&'static str),
    /// Outside the type's range.
    Overflow,
    /// A `-` on an unsigned value.
    Negative,
    /// A float that is NaN or infinite, literally or by overflow.
    NonFinite,
}

/// Exact powers of ten representable in f64.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

const MAX_EXACT_MANTISSA: u64 = 1 << 53;

/// Parses a float token: `-`? digits (`.` digits)? ([eE] [+-]? digits)?, at least one mantissa digit.
pub(crate) fn parse_float(token: &str) -> Result<f64, NumberError> {
    let bytes = token.as_bytes();
    let (negative, mut i) = match bytes.first() {
        Some(b'-') => (true, 1),
        _ => (false, 0),
    };
    let mut mantissa: u64 = 0;
    let mut digits = 0usize;
    let mut int_digits = 0usize;
    while let Some(&b) = bytes.get(i) {
        if !b.is_ascii_digit() {
            break;
        }
        mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(b - b'0'));
        digits += 1;
        int_digits += 1;
        i += 1;
    }
    let mut frac_digits = 0usize;
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        while let Some(&b) = bytes.get(i) {
            if !b.is_ascii_digit() {
                break;
            }
            mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(b - b'0'));
            digits += 1;
            frac_digits += 1;
            i += 1;
        }
    }
    if int_digits + frac_digits == 0 {
        return Err(non_number(bytes));
    }
    let mut exponent: i64 = 0;
    if let Some(b'e' | b'E') = bytes.get(i) {
        i += 1;
        let exp_negative = match bytes.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        while let Some(&b) = bytes.get(i) {
            if !b.is_ascii_digit() {
                break;
            }
            // Saturate: anything this large is 0 or infinity and is settled by the slow path.
            exponent = (exponent * 10 + i64::from(b - b'0')).min(1 << 40);
            i += 1;
        }
        if i == start {
            return Err(NumberError::Syntax("the exponent has no digits"));
        }
        if exp_negative {
            exponent = -exponent;
        }
    }
    if i != bytes.len() {
        return Err(NumberError::Syntax(
            "expected a number (float, or integer with suffix i or u), a boolean or a quoted string",
        ));
    }
    let power = exponent - i64::try_from(frac_digits).unwrap_or(i64::MAX);
    let value = if digits <= 19 && mantissa <= MAX_EXACT_MANTISSA && (-22..=22).contains(&power) {
        let m = mantissa as f64;
        let p = POW10
            .get(power.unsigned_abs() as usize)
            .copied()
            .unwrap_or(1.0);
        let v = if power < 0 { m / p } else { m * p };
        if negative { -v } else { v }
    } else {
        token
            .parse::<f64>()
            .map_err(|_| NumberError::Syntax("not a valid float"))?
    };
    if value.is_finite() {
        Ok(value)
    } else {
        Err(NumberError::NonFinite)
    }
}

/// Classifies a token that is not a number at all, to give the most helpful reason.
fn non_number(bytes: &[u8]) -> NumberError {
    let lower: Vec<u8> = bytes.iter().map(u8::to_ascii_lowercase).collect();
    let body = lower.strip_prefix(b"-").unwrap_or(&lower);
    if matches!(body, b"nan" | b"inf" | b"infinity") {
        NumberError::NonFinite
    } else {
        NumberError::Syntax(
            "expected a number (float, or integer with suffix i or u), a boolean or a quoted string",
        )
    }
}

/// Parses the digits of an unsigned magnitude; `None` on overflow, `Err` on a non-digit or no digit.
fn parse_magnitude(digits: &[u8]) -> Result<Option<u64>, NumberError> {
    if digits.is_empty() {
        return Err(NumberError::Syntax("no digits"));
    }
    let mut value: u64 = 0;
    let mut overflow = false;
    for &b in digits {
        if !b.is_ascii_digit() {
            return Err(NumberError::Syntax("only the digits 0-9 may appear"));
        }
        match value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
        {
            Some(v) => value = v,
            None => overflow = true,
        }
    }
    Ok(if overflow { None } else { Some(value) })
}

/// Parses `-`? digits as an i64, exactly over the whole range.
pub(crate) fn parse_i64(token: &[u8]) -> Result<i64, NumberError> {
    let (negative, digits) = match token.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, token),
    };
    let magnitude = parse_magnitude(digits)?.ok_or(NumberError::Overflow)?;
    if negative {
        // -(2^63) is the one magnitude that has no positive i64 counterpart.
        0i64.checked_sub_unsigned(magnitude)
            .ok_or(NumberError::Overflow)
    } else {
        i64::try_from(magnitude).map_err(|_| NumberError::Overflow)
    }
}

/// Parses digits as a u64, exactly over the whole range; a `-` is refused.
pub(crate) fn parse_u64(token: &[u8]) -> Result<u64, NumberError> {
    if token.first() == Some(&b'-') {
        return Err(NumberError::Negative);
    }
    parse_magnitude(token)?.ok_or(NumberError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_match_the_standard_parser() {
        for s in [
            "0",
            "-0",
            "1",
            "47.3",
            "0.001",
            "-1.5",
            "1e10",
            "1E-5",
            "-1.234456e+78",
            ".5",
            "5.",
            "123456789012345678901234567890",
            "0.1234567890123456789",
            "1e22",
            "1e23",
            "9007199254740993",
            "2.2250738585072014e-308",
            "4.9e-324",
            "1e-400",
            "1.7976931348623157e308",
            "00012.500",
        ] {
            let want: f64 = s.parse().unwrap();
            let got = parse_float(s).unwrap();
            assert_eq!(got.to_bits(), want.to_bits(), "{s}");
        }
    }

    #[test]
    fn float_rejections() {
        assert_eq!(parse_float("1e309"), Err(NumberError::NonFinite));
        assert_eq!(parse_float("-1e309"), Err(NumberError::NonFinite));
        assert_eq!(parse_float("NaN"), Err(NumberError::NonFinite));
        assert_eq!(parse_float("-inf"), Err(NumberError::NonFinite));
        for s in [
            "", "-", ".", "+1", "1e", "1e+", "1.2.3", "0x10", "1_000", "1..2", "e5",
        ] {
            assert!(matches!(parse_float(s), Err(NumberError::Syntax(_))), "{s}");
        }
    }

    #[test]
    fn integer_limits() {
        assert_eq!(parse_i64(b"9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(
            parse_i64(b"9223372036854775808"),
            Err(NumberError::Overflow)
        );
        assert_eq!(
            parse_i64(b"-9223372036854775809"),
            Err(NumberError::Overflow)
        );
        assert_eq!(
            parse_i64(b"99999999999999999999999"),
            Err(NumberError::Overflow)
        );
        assert_eq!(parse_u64(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            parse_u64(b"18446744073709551616"),
            Err(NumberError::Overflow)
        );
        assert_eq!(parse_u64(b"-1"), Err(NumberError::Negative));
        assert!(matches!(parse_i64(b"-"), Err(NumberError::Syntax(_))));
        assert!(matches!(parse_i64(b"1.5"), Err(NumberError::Syntax(_))));
        assert!(matches!(parse_u64(b"+1"), Err(NumberError::Syntax(_))));
    }
}
