//! Timestamps: epoch milliseconds everywhere inside Tributary.
//!
//! Vendors send epoch ms (Cortex), epoch seconds (Semgrep `since`), RFC 3339 strings
//! (Semgrep), plain dates. [`parse_loose`] accepts all of them so transform maps can
//! point any of them at a date target.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

pub fn now_ms() -> Millis {
    Utc::now().timestamp_millis()
}

/// RFC 3339 rendering with millisecond precision, `Z` suffix.
pub fn to_rfc3339(ms: Millis) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => ms.to_string(),
    }
}

/// Parses a timestamp given as epoch ms/s (number or numeric string), RFC 3339,
/// `YYYY-MM-DDTHH:MM[:SS]` (UTC), or `YYYY-MM-DD`.
///
/// Numbers below 10^11 are taken as seconds (10^11 s is the year 5138; 10^11 ms is 1973),
/// which is how a date field can accept both Semgrep's and Cortex's conventions.
pub fn parse_loose(text: &str) -> Option<Millis> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if let Ok(n) = t.parse::<f64>() {
        return from_number(n);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.timestamp_millis());
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t.trim_end_matches('Z'), fmt) {
            return Some(dt.and_utc().timestamp_millis());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|dt| dt.and_utc().timestamp_millis());
    }
    None
}

/// Epoch number → ms, with the seconds/milliseconds heuristic of [`parse_loose`].
pub fn from_number(n: f64) -> Option<Millis> {
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    if n < 1e11 { Some((n * 1000.0).round() as i64) } else { Some(n.round() as i64) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vendor_time_shapes() {
        assert_eq!(parse_loose("1795420800000"), Some(1_795_420_800_000));
        assert_eq!(parse_loose("1636942398.45"), Some(1_636_942_398_450));
        assert_eq!(parse_loose("2026-10-02T08:14:55.120Z"), Some(1_790_928_895_120));
        assert_eq!(parse_loose("2026-12-01T10:00Z"), parse_loose("2026-12-01T10:00:00Z"));
        assert_eq!(parse_loose("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_loose("yesterday"), None);
        assert_eq!(to_rfc3339(86_400_000), "1970-01-02T00:00:00.000Z");
    }
}
