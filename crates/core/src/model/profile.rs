//! Profiles: which integration runs with which transform map, when.

use serde::{Deserialize, Serialize};

use crate::time::{Millis, to_rfc3339};

/// When a profile runs. `Manual` profiles run only on `tributary sync`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Schedule {
    Manual,
    /// A single occurrence at a fixed time.
    Once {
        at: Millis,
    },
    /// Recurring every `every_ms`, from `start` (first run) until `end` (exclusive).
    Every {
        every_ms: i64,
        start: Millis,
        end: Option<Millis>,
    },
    /// Recurring on a cron expression (5 or 6 fields, UTC), between `start` and `end`.
    Cron {
        expr: String,
        start: Millis,
        end: Option<Millis>,
    },
}

/// The longest interval of a recurring schedule: ten years.
pub const MAX_INTERVAL_MS: i64 = 3_650 * 86_400_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("invalid duration '{0}': use a number with a unit, e.g. 30m, 24h, 7d, 1h30m")]
    Duration(String),
    #[error("invalid cron expression '{expr}': {reason}")]
    Cron { expr: String, reason: String },
    #[error("invalid time '{0}': use RFC 3339, e.g. 2026-12-01T10:00Z")]
    Time(String),
    #[error("the schedule ends ({end}) before it starts ({start})")]
    EndBeforeStart { start: String, end: String },
    #[error("a recurring interval must be at least one minute, got {0}")]
    TooFrequent(String),
}

impl Schedule {
    /// The first run time strictly after `after`, if any is left.
    pub fn next_after(&self, after: Millis) -> Option<Millis> {
        match self {
            Schedule::Manual => None,
            Schedule::Once { at } => (*at > after).then_some(*at),
            Schedule::Every { every_ms, start, end } => {
                // Checked: a time past the end of representable time is no next run.
                let next = if after < *start {
                    *start
                } else {
                    let periods = (after.checked_sub(*start)? / (*every_ms).max(1)).checked_add(1)?;
                    start.checked_add(periods.checked_mul(*every_ms)?)?
                };
                end.is_none_or(|e| next < e).then_some(next)
            }
            Schedule::Cron { expr, start, end } => {
                let cron = parse_cron(expr).ok()?;
                let from = after.max(*start - 1);
                let from_dt = chrono::DateTime::from_timestamp_millis(from)?;
                let next = cron.find_next_occurrence(&from_dt, false).ok()?.timestamp_millis();
                end.is_none_or(|e| next < e).then_some(next)
            }
        }
    }

    /// A new (or newly activated) profile's first run at `now`: a recurring schedule
    /// starts at its start (due at once when that has passed: its missed times run once),
    /// a single one at its time.
    pub fn first_run(&self, now: Millis) -> Option<Millis> {
        match self {
            Schedule::Manual => None,
            Schedule::Once { at } => (*at >= now).then_some(*at),
            Schedule::Every { start, .. } | Schedule::Cron { start, .. } => self.next_after(*start - 1),
        }
    }

    /// The schedule in words, for `profile list`.
    pub fn describe(&self) -> String {
        match self {
            Schedule::Manual => "manual".into(),
            Schedule::Once { at } => format!("once at {}", to_rfc3339(*at)),
            Schedule::Every { every_ms, start, end } => {
                format!("every {} from {}{}", format_duration(*every_ms), to_rfc3339(*start), until(*end))
            }
            Schedule::Cron { expr, start, end } => format!("cron '{expr}' from {}{}", to_rfc3339(*start), until(*end)),
        }
    }

    /// Builds a recurring schedule, validating bounds.
    pub fn recurring_every(every: &str, start: Millis, end: Option<Millis>) -> Result<Self, ScheduleError> {
        let every_ms = parse_duration(every)?;
        if every_ms < 60_000 {
            return Err(ScheduleError::TooFrequent(every.to_string()));
        }
        if every_ms > MAX_INTERVAL_MS {
            return Err(ScheduleError::Duration(format!("{every} (at most 3650d between runs)")));
        }
        check_bounds(start, end)?;
        Ok(Schedule::Every { every_ms, start, end })
    }

    /// Builds a cron schedule, refusing expressions that fire more often than once a
    /// minute (a seconds field that is not one value) or never (e.g. 30 February), and
    /// bounds that leave no run.
    pub fn recurring_cron(expr: &str, start: Millis, end: Option<Millis>) -> Result<Self, ScheduleError> {
        let bad = |reason: String| ScheduleError::Cron { expr: expr.to_string(), reason };
        let fields: Vec<&str> = expr.split_whitespace().collect();
        if !(5..=6).contains(&fields.len()) {
            return Err(bad(format!(
                "it has {} fields; write 5 (minute hour day-of-month month day-of-week) or 6 (seconds first)",
                fields.len()
            )));
        }
        if fields.len() == 6 && !fields[0].chars().all(|c| c.is_ascii_digit()) {
            return Err(bad(format!(
                "the seconds field '{}' fires more than once a minute; give it one value (e.g. 0) or use 5 fields",
                fields[0]
            )));
        }
        parse_cron(expr)?;
        check_bounds(start, end)?;
        let schedule = Schedule::Cron { expr: expr.trim().to_string(), start, end };
        if schedule.next_after(start - 1).is_none() {
            let reason = if end.is_some() {
                "it never fires between the start and the end".to_string()
            } else {
                "it never fires: its day-of-month, month and day-of-week fields never meet (e.g. 30 February)".to_string()
            };
            return Err(bad(reason));
        }
        Ok(schedule)
    }
}

fn until(end: Option<Millis>) -> String {
    end.map(|e| format!(" until {}", to_rfc3339(e))).unwrap_or_default()
}

fn check_bounds(start: Millis, end: Option<Millis>) -> Result<(), ScheduleError> {
    match end {
        Some(e) if e <= start => Err(ScheduleError::EndBeforeStart { start: to_rfc3339(start), end: to_rfc3339(e) }),
        _ => Ok(()),
    }
}

fn parse_cron(expr: &str) -> Result<croner::Cron, ScheduleError> {
    expr.trim().parse::<croner::Cron>().map_err(|e| ScheduleError::Cron { expr: expr.to_string(), reason: e.to_string() })
}

/// Parses `30m`, `24h`, `7d`, `1h30m`, `90s`, `2w` into milliseconds.
pub fn parse_duration(text: &str) -> Result<i64, ScheduleError> {
    let err = || ScheduleError::Duration(text.to_string());
    let t = text.trim();
    if t.is_empty() {
        return Err(err());
    }
    let mut total: i64 = 0;
    let mut num = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: i64 = num.parse().map_err(|_| err())?;
        num.clear();
        let unit = match c {
            's' => 1_000,
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            'w' => 7 * 86_400_000,
            _ => return Err(err()),
        };
        total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or_else(err)?;
    }
    if !num.is_empty() || total <= 0 {
        return Err(err());
    }
    Ok(total)
}

pub fn format_duration(ms: i64) -> String {
    let units = [("w", 7 * 86_400_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)];
    let mut rest = ms;
    let mut out = String::new();
    for (name, size) in units {
        if rest >= size {
            out.push_str(&format!("{}{}", rest / size, name));
            rest %= size;
        }
    }
    if out.is_empty() { format!("{ms}ms") } else { out }
}

/// A configured profile: which integration runs, with which transform map per record
/// stream, when.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Profile {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub integration_id: i64,
    /// `(stream, map name)`; streams without an entry use the connector's default map.
    pub maps: Vec<(String, String)>,
    pub active: bool,
    /// The integration's own profile, created with it (what `tributary sync INTEGRATION` runs).
    pub is_default: bool,
    pub schedule: Schedule,
    pub next_run_at: Option<Millis>,
    pub last_run_at: Option<Millis>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_loose;

    #[test]
    fn durations_round_trip() {
        assert_eq!(parse_duration("24h"), Ok(86_400_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert!(parse_duration("24").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("5y").is_err());
        assert_eq!(format_duration(5_400_000), "1h30m");
    }

    #[test]
    fn huge_intervals_are_refused_or_handled_without_overflow() {
        let start = parse_loose("2026-12-01T10:00Z").unwrap();
        for every in ["9999999999d", "106751991167d", "99999999999999999999w"] {
            match Schedule::recurring_every(every, start, None) {
                Ok(s) => {
                    let _ = (s.next_after(start), s.next_after(i64::MAX - 1), s.first_run(start), s.describe());
                }
                Err(e) => assert!(e.to_string().contains(every), "{e}"),
            }
        }
    }

    #[test]
    fn recurring_next_runs() {
        let start = parse_loose("2026-12-01T10:00Z").unwrap();
        let s = Schedule::recurring_every("24h", start, Some(start + 3 * 86_400_000)).unwrap();
        assert_eq!(s.next_after(start - 1), Some(start));
        assert_eq!(s.next_after(start), Some(start + 86_400_000));
        assert_eq!(s.next_after(start + 2 * 86_400_000), None);
        assert!(Schedule::recurring_every("10s", start, None).is_err());
    }

    #[test]
    fn cron_next_runs_and_errors() {
        let start = parse_loose("2026-12-01T00:00Z").unwrap();
        let s = Schedule::recurring_cron("0 3 * * *", start, None).unwrap();
        assert_eq!(s.next_after(start), parse_loose("2026-12-01T03:00Z"));
        let e = Schedule::recurring_cron("61 * * * *", start, None).unwrap_err();
        assert!(e.to_string().contains("invalid cron expression"), "{e}");
        let e = Schedule::recurring_cron("*/10 * * * * *", start, None).unwrap_err().to_string();
        assert!(e.contains("the seconds field '*/10' fires more than once a minute"), "{e}");
        let e = Schedule::recurring_cron("0 0 30 2 *", start, None).unwrap_err().to_string();
        assert!(e.contains("never fires") && e.contains("day-of-month"), "{e}");
        let e = Schedule::recurring_cron("0 3 * *", start, None).unwrap_err().to_string();
        assert!(e.contains("4 fields"), "{e}");
        assert!(Schedule::recurring_cron("0 0 3 * * *", start, None).is_ok(), "six fields with one second");
        let e = Schedule::recurring_cron("0 3 * * *", start, Some(start + 3_600_000)).unwrap_err().to_string();
        assert!(e.contains("never fires between the start and the end"), "{e}");
        // Created with its start now (or past): due at once; a later start waits for it.
        assert_eq!(s.first_run(start + 5 * 86_400_000), parse_loose("2026-12-01T03:00Z"));
        let every = Schedule::recurring_every("1h", start, None).unwrap();
        assert_eq!(every.first_run(start), Some(start));
        assert_eq!(every.first_run(start - 10), Some(start));
        let once = Schedule::Once { at: start };
        assert_eq!(once.next_after(start - 5), Some(start));
        assert_eq!(once.next_after(start), None);
    }
}
