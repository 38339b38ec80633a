//! The generator's own random numbers: xoshiro256** seeded by SplitMix64, a Marsaglia polar
//! Gaussian and a geometric draw for spike gaps.
//!
//! **Invariant:** every number here is computed with IEEE-754 basic operations only (`+ - * /`,
//! `sqrt`, bit manipulation), never with the platform's libm. `f64::ln` may differ in the last
//! bit between glibc, musl and macOS, and one such bit can change a printed digit somewhere in a
//! long run; so the logarithm the Gaussian needs is computed by [`ln`] below. That keeps the
//! output byte-identical for a seed on every platform and with every crate version.

/// SplitMix64: turns one `u64` seed into well-mixed state words for [`Xoshiro256`].
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// xoshiro256** (Blackman and Vigna): fast, 256 bits of state, passes BigCrush.
#[derive(Debug, Clone)]
pub(crate) struct Xoshiro256 {
    s: [u64; 4],
    /// The second value of the last polar pair, handed out by the next [`Xoshiro256::gauss`].
    spare_gauss: Option<f64>,
}

impl Xoshiro256 {
    /// Seeds from four SplitMix64 outputs, as the xoshiro authors recommend. SplitMix64 never
    /// yields four zeros in a row, so the state is never all zero.
    pub(crate) fn from_splitmix(seeder: &mut SplitMix64) -> Self {
        let s = [seeder.next_u64(), seeder.next_u64(), seeder.next_u64(), seeder.next_u64()];
        Xoshiro256 { s, spare_gauss: None }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let [s0, s1, s2, s3] = &mut self.s;
        let result = s1.wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = *s1 << 17;
        *s2 ^= *s0;
        *s3 ^= *s1;
        *s1 ^= *s2;
        *s0 ^= *s3;
        *s2 ^= t;
        *s3 = s3.rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[lo, hi)`, computed as Python's `random.uniform` does.
    pub(crate) fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next_f64()
    }

    /// Normal with mean 0 and standard deviation `sigma` (Marsaglia's polar method, which needs
    /// a logarithm and a square root but no sine or cosine).
    pub(crate) fn gauss(&mut self, sigma: f64) -> f64 {
        if let Some(z) = self.spare_gauss.take() {
            return z * sigma;
        }
        loop {
            let u = 2.0 * self.next_f64() - 1.0;
            let v = 2.0 * self.next_f64() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                let factor = (-2.0 * ln(s) / s).sqrt();
                self.spare_gauss = Some(v * factor);
                return u * factor * sigma;
            }
        }
    }

    /// How many Bernoulli trials fail before the next success, for success probability `p`
    /// whose `ln(1 - p)` is `ln_q` (precomputed by [`geometric_ln_q`]). `None` for `ln_q` means
    /// `p` is 0: success never comes.
    pub(crate) fn geometric(&mut self, ln_q: Option<f64>) -> u64 {
        let Some(ln_q) = ln_q else {
            return u64::MAX;
        };
        if ln_q == f64::NEG_INFINITY {
            return 0; // p == 1: every trial succeeds
        }
        // Inversion: floor(ln U / ln(1 - p)) for U uniform in (0, 1]. The `as` cast saturates,
        // so a gap beyond u64::MAX (p tiny, U tiny) becomes "never".
        let u = 1.0 - self.next_f64();
        (ln(u) / ln_q) as u64
    }
}

/// `ln(1 - p)` for [`Xoshiro256::geometric`], or `None` when `p` is 0 (or not a probability).
pub(crate) fn geometric_ln_q(p: f64) -> Option<f64> {
    if p > 0.0 && p <= 1.0 { Some(ln(1.0 - p)) } else { None }
}

/// Natural logarithm from basic IEEE operations only, accurate to a few ulp.
///
/// `x = m * 2^e` with `m` in `[sqrt(1/2), sqrt(2))`, then `ln m = 2 atanh(z)` with
/// `z = (m - 1) / (m + 1)`, `|z| <= 0.172`, summed as an odd series to `z^21`, whose first left-out
/// term is below 1e-18.
pub(crate) fn ln(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return f64::INFINITY;
    }
    let (x, mut e) = if x < f64::MIN_POSITIVE {
        // Subnormal: scale into the normal range so the exponent field is meaningful.
        (x * (1u64 << 54) as f64, -54i64)
    } else {
        (x, 0)
    };
    let bits = x.to_bits();
    e += ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | (1023 << 52));
    if m > std::f64::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    let z = (m - 1.0) / (m + 1.0);
    let z2 = z * z;
    let mut sum = 1.0 / 21.0;
    for k in (0..10).rev() {
        sum = 1.0 / f64::from(2 * k + 1) + z2 * sum;
    }
    e as f64 * std::f64::consts::LN_2 + 2.0 * z * sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_reference_vector() {
        // First outputs for seed 1234567 of Vigna's splitmix64.c (checked against a Python
        // transcription of it).
        let mut s = SplitMix64::new(1_234_567);
        assert_eq!(s.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(s.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn xoshiro_matches_reference_vector() {
        // xoshiro256** from state [1, 2, 3, 4], checked against a Python transcription of the
        // reference C code.
        let mut r = Xoshiro256 { s: [1, 2, 3, 4], spare_gauss: None };
        let got: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        assert_eq!(got, [11_520, 0, 1_509_978_240]);
    }

    #[test]
    fn ln_agrees_with_libm() {
        let mut r = Xoshiro256::from_splitmix(&mut SplitMix64::new(9));
        let mut xs = vec![1.0, 0.5, 2.0, 1e-300, 5e-324, 1e300, std::f64::consts::E];
        xs.extend((0..10_000).map(|_| r.next_f64() * 4.0));
        for x in xs {
            let (ours, libm) = (ln(x), x.ln());
            let tolerance = 4.0 * f64::EPSILON * libm.abs().max(1.0);
            assert!((ours - libm).abs() <= tolerance, "ln({x}) = {ours}, libm says {libm}");
        }
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
        assert!(ln(-1.0).is_nan());
    }

    #[test]
    fn gauss_has_unit_moments() {
        let mut r = Xoshiro256::from_splitmix(&mut SplitMix64::new(3));
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| r.gauss(1.0)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "variance {var}");
    }

    #[test]
    fn geometric_gaps_have_the_right_mean() {
        let mut r = Xoshiro256::from_splitmix(&mut SplitMix64::new(5));
        let p = 0.01;
        let n = 100_000;
        let total: u64 = (0..n).map(|_| r.geometric(geometric_ln_q(p))).sum();
        let mean = total as f64 / n as f64;
        // Mean number of failures before a success is (1 - p) / p = 99.
        assert!((mean - 99.0).abs() < 2.0, "mean gap {mean}");
        assert_eq!(r.geometric(geometric_ln_q(1.0)), 0);
        assert_eq!(r.geometric(geometric_ln_q(0.0)), u64::MAX);
    }
}
