//! Time-based one-time passwords (RFC 6238: HMAC-SHA-1, 30-second steps, 6 digits), the
//! optional second factor. Secrets are 20 random bytes, shown once as base32 for an
//! authenticator app and stored sealed. The algorithm and the base32 are `totp-rs`'s; this
//! module fixes the parameters and the window (one step either side), and answers the step a
//! code matched so that the caller can refuse it a second time.

use totp_rs::{Algorithm, Builder, Secret, Totp};

pub const STEP_SECONDS: i64 = 30;
/// The digits of a code an authenticator shows.
const DIGITS: u8 = 6;
/// Steps accepted either side of the current one (clock drift, typing time).
const SKEW: u16 = 1;

/// Anju's TOTP over `secret`. Not `build()`: that refuses secrets under 128 bits, and a
/// stored secret of any length must keep checking as it always has.
fn totp(secret: &[u8], digits: u8) -> Totp {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(digits)
        .with_skew(SKEW)
        .with_step_duration(STEP_SECONDS as u64)
        .with_secret(secret)
        .build_noncompliant()
}

/// The code for one time step (`digits` long, 6 to 8). Steps before 1970 have no code.
pub fn code_at_step(secret: &[u8], step: i64, digits: u32) -> String {
    let digits = u8::try_from(digits).expect("6 to 8 digits");
    let step = u64::try_from(step).expect("a step after 1970");
    totp(secret, digits)
        .generate(step * STEP_SECONDS as u64)
        .to_string()
}

/// The step a code matches within one step either side of `unix_seconds`, if any.
pub fn matching_step(secret: &[u8], code: &str, unix_seconds: i64) -> Option<i64> {
    let now = u64::try_from(unix_seconds).ok()?;
    let step = totp(secret, DIGITS).check(code.trim(), now)?;
    i64::try_from(step).ok()
}

/// RFC 4648 base32 without padding (what authenticator apps take).
pub fn base32(bytes: &[u8]) -> String {
    Secret::from(bytes).to_base32()
}

/// The `otpauth://` address an authenticator app scans. Written out rather than totp-rs's
/// `to_url`, which orders and omits parameters differently: addresses already handed out
/// stay byte for byte what they were.
pub fn provisioning_uri(username: &str, secret: &[u8]) -> String {
    format!(
        "otpauth://totp/Anju:{username}?secret={}&issuer=Anju&algorithm=SHA1&digits=6&period=30",
        base32(secret)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1: the secret and (time, 8-digit code) pairs as published.
    const RFC_SECRET: &[u8] = b"12345678901234567890";
    const RFC_VECTORS: [(i64, &str); 6] = [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ];

    #[test]
    fn rfc6238_sha1_vectors() {
        // RFC 6238 appendix B, SHA-1 secret "12345678901234567890", 8 digits.
        let secret = b"12345678901234567890";
        for (t, expect) in [
            (59_i64, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
        ] {
            assert_eq!(code_at_step(secret, t / 30, 8), expect, "t={t}");
        }
        assert_eq!(matching_step(secret, "287082", 59), Some(1));
        assert_eq!(
            matching_step(secret, "287082", 59 + 30),
            Some(1),
            "one step late"
        );
        assert_eq!(matching_step(secret, "287082", 59 + 90), None, "too late");
        assert_eq!(matching_step(secret, "28708", 59), None);
    }

    /// The 6-digit codes an authenticator shows for the RFC's secret are the last six digits
    /// of the published 8-digit ones; each is accepted at its instant, one step early and
    /// one step late, and not two steps away; the step answered is the code's own.
    #[test]
    fn six_digit_codes_from_the_rfc_vectors_and_the_window() {
        for (t, published) in RFC_VECTORS {
            let six = &published[2..];
            let step = t / STEP_SECONDS;
            assert_eq!(code_at_step(RFC_SECRET, step, 6), six, "t={t}");
            assert_eq!(code_at_step(RFC_SECRET, step, 8), published, "t={t}");
            assert_eq!(matching_step(RFC_SECRET, six, t), Some(step), "t={t}");
            let padded = format!(" {six}\n");
            assert_eq!(
                matching_step(RFC_SECRET, &padded, t),
                Some(step),
                "surrounding blanks are ignored, t={t}"
            );
            assert_eq!(
                matching_step(RFC_SECRET, six, t - STEP_SECONDS),
                Some(step),
                "one step early, t={t}"
            );
            assert_eq!(
                matching_step(RFC_SECRET, six, t + STEP_SECONDS),
                Some(step),
                "one step late, t={t}"
            );
            assert_eq!(
                matching_step(RFC_SECRET, six, t + 2 * STEP_SECONDS),
                None,
                "two steps late, t={t}"
            );
            assert_eq!(
                matching_step(RFC_SECRET, published, t),
                None,
                "eight digits are not six, t={t}"
            );
        }
        // t = 1111111109 is the last second of step 37037036: one second on, the code is
        // still within the window (one step late).
        assert_eq!(
            matching_step(RFC_SECRET, "081804", 1111111110),
            Some(37037036)
        );
        for junk in ["", "28708a", "+87082", "-87082", "2870820", "２８７０８２"] {
            assert_eq!(matching_step(RFC_SECRET, junk, 59), None, "{junk:?}");
        }
        assert_eq!(matching_step(RFC_SECRET, "287082", -1), None, "before 1970");
    }

    #[test]
    fn base32_rfc4648_vectors() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(
            base32(b"12345678901234567890"),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
    }

    #[test]
    fn base32_all_rfc4648_vectors_unpadded() {
        // RFC 4648 section 10, padding removed (authenticator apps take it without).
        for (raw, encoded) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32(raw.as_bytes()), encoded, "{raw:?}");
        }
    }

    /// The address existing authenticators were set up from, byte for byte.
    #[test]
    fn provisioning_uri_is_unchanged() {
        assert_eq!(
            provisioning_uri("county", RFC_SECRET),
            "otpauth://totp/Anju:county?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Anju&algorithm=SHA1&digits=6&period=30"
        );
        let secret: Vec<u8> = (0u8..20).collect();
        assert_eq!(
            provisioning_uri("张三", &secret),
            "otpauth://totp/Anju:张三?secret=AAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQT&issuer=Anju&algorithm=SHA1&digits=6&period=30"
        );
    }
}
