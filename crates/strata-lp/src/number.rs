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
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
    1e19, 1e20, 1e21, 1e22,
];

const MAX_EXACT_MANTISSA: u64 = 1 << 53;

/// The common case in one pass: a plain decimal float (no exponent), integer or unsigned value
/// starting at `b[i]` and ending at a field delimiter. Returns the value and the index just past
/// it, or `None` when anything is unusual, and the caller then takes the general path that also
/// explains errors.
#[inline(always)]
pub(crate) fn fast_value(b: &[u8], mut i: usize) -> Option<(crate::FieldValue<'static>, usize)> {
    use crate::FieldValue;
    let negative = b.get(i) == Some(&b'-');
    i += usize::from(negative);
    let (mut mantissa, start) = (0u64, i);
    while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
        mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
        i += 1;
    }
    let int_digits = i - start;
    // 18 digits cannot overflow u64 nor pass i64::MAX; longer numbers take the general path.
    if int_digits > 18 {
        return None;
    }
    let ends = |at: usize| matches!(b.get(at), None | Some(b',' | b' '));
    match b.get(i) {
        Some(b'i') if int_digits > 0 && ends(i + 1) => {
            let v = mantissa as i64;
            Some((FieldValue::Integer(if negative { -v } else { v }), i + 1))
        }
        Some(b'u') if int_digits > 0 && !negative && ends(i + 1) => {
            Some((FieldValue::Unsigned(mantissa), i + 1))
        }
        _ => {
            let mut frac_digits = 0;
            if b.get(i) == Some(&b'.') {
                i += 1;
                while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
                    mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
                    i += 1;
                    frac_digits += 1;
                }
            }
            let digits = int_digits + frac_digits;
            if digits == 0 || digits > 18 || mantissa > MAX_EXACT_MANTISSA || !ends(i) {
                return None;
            }
            // Exact: both operands are exactly representable, so one division rounds correctly.
            let v = mantissa as f64 / *POW10.get(frac_digits)?;
            Some((FieldValue::Float(if negative { -v } else { v }), i))
        }
    }
}

/// A timestamp of at most 18 digits (all of them until the year 2286 in nanoseconds) ending at a
/// space or the end of the line, in one pass; `None` sends the caller to the general path.
#[inline(always)]
pub(crate) fn fast_i64(b: &[u8], mut i: usize) -> Option<(i64, usize)> {
    let negative = b.get(i) == Some(&b'-');
    i += usize::from(negative);
    let start = i;
    let mut value: i64 = 0;
    while let Some(word) = b.get(i..i + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()).map(u64::from_le_bytes) {
        if !is_eight_digits(word) {
            break;
        }
        value = value.wrapping_mul(100_000_000).wrapping_add(i64::from(eight_digits(word)));
        i += 8;
    }
    while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
        value = value.wrapping_mul(10).wrapping_add(i64::from(c - b'0'));
        i += 1;
    }
    let digits = i - start;
    if digits == 0 || digits > 18 || !matches!(b.get(i), None | Some(b' ')) {
        return None;
    }
    Some((if negative { -value } else { value }, i))
}

/// Whether all eight bytes of a little-endian word are ASCII digits: each byte's high nibble must
/// be 3, and stay 3 after adding 6 (which carries out of the nibble for `:` to `?`).
#[inline(always)]
fn is_eight_digits(word: u64) -> bool {
    const HIGH: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    ((word & HIGH) | ((word.wrapping_add(0x0606_0606_0606_0606) & HIGH) >> 4)) == 0x3333_3333_3333_3333
}

/// The value of eight ASCII digits (first digit in the lowest byte), combined pairwise: digits
/// into 2-digit numbers, those into 4-digit ones, those into the 8-digit result.
#[inline(always)]
fn eight_digits(word: u64) -> u32 {
    let v = word - 0x3030_3030_3030_3030;
    let pairs = (v * 10 + (v >> 8)) & 0x00FF_00FF_00FF_00FF;
    let quads = (pairs * 100 + (pairs >> 16)) & 0x0000_FFFF_0000_FFFF;
    ((quads * 10_000 + (quads >> 32)) & 0xFFFF_FFFF) as u32
}

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
        let p = POW10.get(power.unsigned_abs() as usize).copied().unwrap_or(1.0);
        let v = if power < 0 { m / p } else { m * p };
        if negative { -v } else { v }
    } else {
        token.parse::<f64>().map_err(|_| NumberError::Syntax("not a valid float"))?
    };
    if value.is_finite() { Ok(value) } else { Err(NumberError::NonFinite) }
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
        match value.checked_mul(10).and_then(|v| v.checked_add(u64::from(b - b'0'))) {
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
        0i64.checked_sub_unsigned(magnitude).ok_or(NumberError::Overflow)
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
        for s in ["", "-", ".", "+1", "1e", "1e+", "1.2.3", "0x10", "1_000", "1..2", "e5"] {
            assert!(matches!(parse_float(s), Err(NumberError::Syntax(_))), "{s}");
        }
    }

    #[test]
    fn fast_paths_agree_with_the_general_ones() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for n in 0..20_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Every digit count from 1 to 19, both signs.
            let digits = 1 + n % 19;
            let magnitude = x % 10u64.pow(digits);
            let text = if n % 2 == 0 { format!("{magnitude}") } else { format!("-{magnitude}") };
            let want = parse_i64(text.as_bytes()).ok();
            match fast_i64(text.as_bytes(), 0) {
                Some((v, end)) => {
                    assert_eq!(Some(v), want, "{text}");
                    assert_eq!(end, text.len());
                }
                None => assert!(text.trim_start_matches('-').len() > 18, "{text} left the fast path"),
            }
            for suffix in ["", "i", "u"] {
                let token = format!("{text}{suffix}");
                if let Some((value, end)) = fast_value(token.as_bytes(), 0) {
                    assert_eq!(end, token.len());
                    let general = match suffix {
                        "i" => parse_i64(text.as_bytes()).map(crate::FieldValue::Integer).ok(),
                        "u" => parse_u64(text.as_bytes()).map(crate::FieldValue::Unsigned).ok(),
                        _ => parse_float(&token).map(crate::FieldValue::Float).ok(),
                    };
                    assert_eq!(Some(value), general, "{token}");
                }
            }
        }
        assert_eq!(fast_i64(b"12345678 ", 0), Some((12_345_678, 8)));
        // Every digit count, ended by every byte, at the end of the input or not, behind any prefix.
        for digits in 1..=19 {
            let number: String = (0..digits).map(|k| char::from(b'0' + (k * 7 % 10) as u8)).collect();
            for end in 0..=255u8 {
                for prefix in ["", "m f=1 ", "-"] {
                    for tail in [&[end][..], &[end, b'1', b'2'][..], &[][..]] {
                        let mut text = format!("{prefix}{number}").into_bytes();
                        text.extend_from_slice(tail);
                        let at = prefix.len().min(text.len()) - usize::from(prefix == "-");
                        let token_end =
                            text[at..].iter().position(|&c| c == b' ').map_or(text.len(), |p| at + p);
                        let want = parse_i64(&text[at..token_end]).ok().map(|v| (v, token_end));
                        match fast_i64(&text, at) {
                            Some(got) => assert_eq!(Some(got), want, "{text:?}"),
                            None => {
                                let long =
                                    text[at..token_end].iter().filter(|c| c.is_ascii_digit()).count() > 18;
                                assert!(want.is_none() || long, "{text:?} left the fast path");
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(fast_i64(b"1234567x", 0), None);
        assert_eq!(fast_i64(b"12:45678", 0), None);
    }

    #[test]
    fn integer_limits() {
        assert_eq!(parse_i64(b"9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), Err(NumberError::Overflow));
        assert_eq!(parse_i64(b"-9223372036854775809"), Err(NumberError::Overflow));
        assert_eq!(parse_i64(b"99999999999999999999999"), Err(NumberError::Overflow));
        assert_eq!(parse_u64(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), Err(NumberError::Overflow));
        assert_eq!(parse_u64(b"-1"), Err(NumberError::Negative));
        assert!(matches!(parse_i64(b"-"), Err(NumberError::Syntax(_))));
        assert!(matches!(parse_i64(b"1.5"), Err(NumberError::Syntax(_))));
        assert!(matches!(parse_u64(b"+1"), Err(NumberError::Syntax(_))));
    }
}
