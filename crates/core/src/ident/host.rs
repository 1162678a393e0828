//! Host identifier hygiene.
//!
//! IP addresses are attributes, never identities on their own (DHCP, NAT, VPNs);
//! MAC addresses identify a host only when globally administered (locally
//! administered MACs — Docker's `02:42:…`, VM and VPN adapters — repeat across hosts).

/// Normalizes a MAC to lowercase colon form, or `None` if it is malformed.
pub fn normalize_mac(mac: &str) -> Option<String> {
    let hex: String = mac.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    let separators_ok = mac.chars().all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '-' | '.'));
    if hex.len() != 12 || !separators_ok {
        return None;
    }
    let lower = hex.to_ascii_lowercase();
    let parts: Vec<&str> = (0..6).map(|i| &lower[i * 2..i * 2 + 2]).collect();
    Some(parts.join(":"))
}

/// True when a MAC can identify a host: well formed, globally administered, unicast,
/// and not all zeros.
pub fn is_identifying_mac(mac: &str) -> bool {
    let Some(norm) = normalize_mac(mac) else { return false };
    let Ok(first) = u8::from_str_radix(&norm[..2], 16) else { return false };
    let locally_administered = first & 0b10 != 0;
    let multicast = first & 0b1 != 0;
    !locally_administered && !multicast && norm != "00:00:00:00:00:00"
}

/// Lowercase FQDN without a trailing dot, from a hostname and an optional domain.
/// Returns `None` when the result has no dot (a bare hostname is not an FQDN).
pub fn fqdn(hostname: &str, domain: Option<&str>) -> Option<String> {
    let h = hostname.trim().trim_end_matches('.').to_ascii_lowercase();
    if h.is_empty() {
        return None;
    }
    let full = match domain.map(|d| d.trim().trim_matches('.').to_ascii_lowercase()) {
        Some(d) if !d.is_empty() && !h.ends_with(&format!(".{d}")) && h != d => format!("{h}.{d}"),
        _ => h,
    };
    full.contains('.').then_some(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs() {
        assert_eq!(normalize_mac("00-1A-2B-3C-4D-5E").as_deref(), Some("00:1a:2b:3c:4d:5e"));
        assert!(is_identifying_mac("00:1a:2b:3c:4d:5e"));
        assert!(!is_identifying_mac("02:42:ac:11:00:02"), "docker bridge MACs are locally administered");
        assert!(!is_identifying_mac("01:00:5e:00:00:01"), "multicast");
        assert!(!is_identifying_mac("00:00:00:00:00:00"));
        assert!(!is_identifying_mac("zz:1a:2b:3c:4d:5e"));
    }

    #[test]
    fn fqdns() {
        assert_eq!(fqdn("WEB-01", Some("corp.acme.com")).as_deref(), Some("web-01.corp.acme.com"));
        assert_eq!(fqdn("web-01.corp.acme.com.", Some("corp.acme.com")).as_deref(), Some("web-01.corp.acme.com"));
        assert_eq!(fqdn("web-01", Some("")), None);
        assert_eq!(fqdn("web-01", None), None);
    }
}
