//! Normalized severity (OCSF `severity_id` 1–5) and the loose parser that maps vendor
//! spellings onto it.

use super::string_enum;

/// Normalized severity. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

string_enum!(Severity, "severity", {
    Info => "info", Low => "low", Medium => "medium", High => "high", Critical => "critical",
});

impl Severity {
    /// OCSF `severity_id`: 1 Informational … 5 Critical.
    pub fn ocsf_id(self) -> i64 {
        match self {
            Severity::Info => 1,
            Severity::Low => 2,
            Severity::Medium => 3,
            Severity::High => 4,
            Severity::Critical => 5,
        }
    }

    pub fn from_ocsf_id(id: i64) -> Option<Self> {
        Some(match id {
            1 => Severity::Info,
            2 => Severity::Low,
            3 => Severity::Medium,
            4 => Severity::High,
            5 | 6 => Severity::Critical,
            _ => return None,
        })
    }

    /// CVSS v3/v4 qualitative bands: 0 none (→ info), 0.1–3.9 low, 4–6.9 medium,
    /// 7–8.9 high, 9–10 critical.
    pub fn from_cvss(score: f64) -> Self {
        if score >= 9.0 {
            Severity::Critical
        } else if score >= 7.0 {
            Severity::High
        } else if score >= 4.0 {
            Severity::Medium
        } else if score > 0.0 {
            Severity::Low
        } else {
            Severity::Info
        }
    }

    /// Maps vendor spellings: `CRITICAL`, `crit`, `SEV_040_HIGH`, `Moderate`, `error`
    /// (SARIF level), `informational`, `none`, or an OCSF id / CVSS score as text.
    pub fn parse_loose(text: &str) -> Option<Self> {
        // The exact names are by far the most common input: no allocation for them.
        for s in [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Info] {
            if text.eq_ignore_ascii_case(s.as_str()) {
                return Some(s);
            }
        }
        let t = text.trim().to_ascii_lowercase();
        if t.is_empty() {
            return None;
        }
        if let Ok(n) = t.parse::<f64>() {
            // "1".."5" are OCSF ids; anything with a fraction or above 5 is a CVSS score.
            if n.fract() == 0.0 && (1.0..=5.0).contains(&n) {
                return Self::from_ocsf_id(n as i64);
            }
            if (0.0..=10.0).contains(&n) {
                return Some(Self::from_cvss(n));
            }
            return None;
        }
        let words = ["critical", "crit", "high", "error", "important", "medium", "moderate", "warning", "low", "note", "info", "none"];
        let hit = words.iter().find(|w| t.contains(*w))?;
        Some(match *hit {
            "critical" | "crit" => Severity::Critical,
            "high" | "error" | "important" => Severity::High,
            "medium" | "moderate" | "warning" => Severity::Medium,
            "low" | "note" => Severity::Low,
            _ => Severity::Info,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_parsing_covers_vendor_spellings() {
        for (text, want) in [
            ("CRITICAL", Severity::Critical),
            ("SEV_040_HIGH", Severity::High),
            ("Moderate", Severity::Medium),
            ("warning", Severity::Medium),
            ("informational", Severity::Info),
            ("4", Severity::High),
            ("9.8", Severity::Critical),
            ("6.1", Severity::Medium),
        ] {
            assert_eq!(Severity::parse_loose(text), Some(want), "{text}");
        }
        assert_eq!(Severity::parse_loose("banana"), None);
        assert!(Severity::Critical > Severity::High);
    }
}
