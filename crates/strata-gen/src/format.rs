//! Number formatting for the hot loop: scaled integers written digit pair by digit pair into
//! the output, never through `format!`.

/// The largest number of decimals a metric may print; `10^MAX_DIGITS` fits `u64` with room.
pub(crate) const MAX_DIGITS: u8 = 9;

const POW10: [u64; MAX_DIGITS as usize + 1] =
    [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];

/// "00" "01" ... "99": two digits per division halves the divisions.
const PAIRS: &[u8; 200] = b"\
    0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

/// Appends `value` as Python prints `round(value, digits)` for `digits > 0` and
/// `float(int(value))` for `digits == 0` (the reference script truncates whole-number metrics):
/// the shortest decimal text, trailing zeros dropped but at least one decimal kept
/// (`47.3`, `47.0`, `12.25`, `1234.0`).
///
/// Values must be finite and below about 1.8e19 times `10^-digits`; larger ones saturate (the
/// generator's values stay far below: its largest are byte counters near 1e13).
pub(crate) fn push_decimal(out: &mut Vec<u8>, value: f64, digits: u8) {
    let digits = digits.min(MAX_DIGITS);
    let scale = POW10[usize::from(digits)];
    let scaled = if digits == 0 { value.trunc() } else { (value * scale as f64).round() };
    // `as` saturates and maps NaN to 0, so nothing here can panic.
    let negative = scaled < 0.0;
    let magnitude = scaled.abs() as u64;
    if negative && magnitude != 0 {
        out.push(b'-');
    }
    push_u64(out, magnitude / scale);
    out.push(b'.');
    let mut frac = magnitude % scale;
    if frac == 0 {
        out.push(b'0');
        return;
    }
    let mut width = usize::from(digits);
    while frac.is_multiple_of(10) {
        frac /= 10;
        width -= 1;
    }
    push_padded(out, frac, width);
}

/// Appends `n` in decimal.
pub(crate) fn push_u64(out: &mut Vec<u8>, n: u64) {
    let mut buf = [b'0'; 20];
    let start = fill_backwards(&mut buf, n);
    out.extend_from_slice(&buf[start..]);
}

/// Appends `n` in decimal with a leading `-` when negative.
pub(crate) fn push_i64(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    push_u64(out, n.unsigned_abs());
}

/// Appends `n` left-padded with zeros to `width` digits (`width <= 20`).
fn push_padded(out: &mut Vec<u8>, n: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let start = fill_backwards(&mut buf, n).min(buf.len().saturating_sub(width));
    out.extend_from_slice(&buf[start..]);
}

/// Writes the digits of `n` at the end of `buf` and returns where they start.
fn fill_backwards(buf: &mut [u8; 20], mut n: u64) -> usize {
    // u64::MAX has 20 digits, so `i` never underflows.
    let mut i = buf.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decimal(value: f64, digits: u8) -> String {
        let mut out = Vec::new();
        push_decimal(&mut out, value, digits);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn decimals_print_like_python_round_repr() {
        // Expected texts are Python's `repr(round(v, d))`.
        assert_eq!(decimal(47.3, 1), "47.3");
        assert_eq!(decimal(47.04, 1), "47.0");
        assert_eq!(decimal(12.2500001, 2), "12.25");
        assert_eq!(decimal(12.2000001, 4), "12.2");
        assert_eq!(decimal(0.0, 3), "0.0");
        assert_eq!(decimal(0.00004, 4), "0.0");
        assert_eq!(decimal(0.00005001, 4), "0.0001");
        assert_eq!(decimal(1.23456, 4), "1.2346");
        assert_eq!(decimal(99.96, 1), "100.0");
        assert_eq!(decimal(0.2, 3), "0.2");
        assert_eq!(decimal(249_999.999, 2), "250000.0");
        assert_eq!(decimal(-1.26, 1), "-1.3");
    }

    #[test]
    fn whole_numbers_truncate_like_the_reference() {
        // The reference prints `float(int(v))` when a metric has no decimals.
        assert_eq!(decimal(1234.9, 0), "1234.0");
        assert_eq!(decimal(3600.0, 0), "3600.0");
        assert_eq!(decimal(307_325_761_458.77, 0), "307325761458.0");
        assert_eq!(decimal(0.5, 0), "0.0");
    }

    #[test]
    fn integers_print_every_digit() {
        for n in [0, 7, 10, 99, 100, 101, 1_763_769_600, u64::MAX] {
            let mut out = Vec::new();
            push_u64(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
        for n in [0, -1, -1_763_769_600_000, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            push_i64(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }

    #[test]
    fn padded_fractions_keep_leading_zeros() {
        let mut out = Vec::new();
        push_padded(&mut out, 5, 4);
        assert_eq!(out, b"0005");
    }
}
