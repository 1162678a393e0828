//! Identification rules: which existing asset a staged asset is.
//!
//! Each asset kind has an ordered list of identifier kinds (precedence). A staged asset
//! is matched by the first rule, in order, for which one of its identifiers is already
//! known; otherwise it is new and the first rule it has an identifier for names it.
//! Every identifier an asset carries is then recorded for it, so the same host reported
//! twice — or by two sources — resolves to one asset.

use serde::{Deserialize, Serialize};

use crate::model::{AssetKind, string_enum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdentifierKind {
    /// EDR agent id, namespaced by connector (`cortex-xdr:5c1f…`).
    AgentId,
    /// Cloud instance id (`aws:i-0abc…`).
    CloudInstanceId,
    /// Globally administered MAC address.
    Mac,
    /// Fully qualified domain name.
    Fqdn,
    /// Host name plus IPv4 address (`web-01|10.0.0.1`).
    HostnameIp,
    /// Normalized repository URL (`github.com/acme/web`).
    RepoUrl,
    /// Package URL with version.
    Purl,
    /// The source's own id when nothing stronger exists (`connector:id`).
    SourceId,
}

string_enum!(IdentifierKind, "identifier kind", {
    AgentId => "agent_id", CloudInstanceId => "cloud_instance_id", Mac => "mac", Fqdn => "fqdn",
    HostnameIp => "hostname_ip", RepoUrl => "repo_url", Purl => "purl", SourceId => "source_id",
});

impl IdentifierKind {
    /// Position in the default precedence (lower is stronger).
    pub fn default_rank(self) -> u8 {
        self as u8
    }

    /// Asset kinds this identifier can identify.
    pub fn applies_to(self, kind: AssetKind) -> bool {
        match self {
            IdentifierKind::AgentId
            | IdentifierKind::CloudInstanceId
            | IdentifierKind::Mac
            | IdentifierKind::Fqdn
            | IdentifierKind::HostnameIp => kind == AssetKind::Host,
            IdentifierKind::RepoUrl => kind == AssetKind::Repository,
            IdentifierKind::Purl => kind == AssetKind::Package,
            IdentifierKind::SourceId => true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identifier {
    pub kind: IdentifierKind,
    pub value: String,
}

/// One precedence entry for one asset kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IdentificationRule {
    pub asset_kind: AssetKind,
    pub identifier: IdentifierKind,
    /// 1 = strongest.
    pub precedence: i64,
}

/// The shipped precedence: agent id > cloud instance id > MAC > FQDN > hostname+IP for
/// hosts; normalized URL for repositories; purl for packages; the source id last.
pub fn default_rules() -> Vec<IdentificationRule> {
    let mut rules = Vec::new();
    for kind in AssetKind::ALL {
        let mut p = 0;
        for id in IdentifierKind::ALL {
            if id.applies_to(*kind) {
                p += 1;
                rules.push(IdentificationRule { asset_kind: *kind, identifier: *id, precedence: p });
            }
        }
    }
    rules
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("'{identifier}' cannot identify a {kind} asset (it applies to: {applies})")]
    NotApplicable { kind: AssetKind, identifier: IdentifierKind, applies: String },
    #[error("'{0}' is listed twice")]
    Duplicate(IdentifierKind),
    #[error("a {0} asset needs at least one identification rule")]
    Empty(AssetKind),
}

/// Validates a new precedence list for one asset kind (the order given is the precedence).
pub fn rules_for(kind: AssetKind, order: &[IdentifierKind]) -> Result<Vec<IdentificationRule>, RuleError> {
    if order.is_empty() {
        return Err(RuleError::Empty(kind));
    }
    let mut out: Vec<IdentificationRule> = Vec::new();
    for (i, id) in order.iter().enumerate() {
        if !id.applies_to(kind) {
            let applies = AssetKind::ALL.iter().filter(|k| id.applies_to(**k)).map(|k| k.as_str()).collect::<Vec<_>>().join(", ");
            return Err(RuleError::NotApplicable { kind, identifier: *id, applies });
        }
        if out.iter().any(|r| r.identifier == *id) {
            return Err(RuleError::Duplicate(*id));
        }
        out.push(IdentificationRule { asset_kind: kind, identifier: *id, precedence: i as i64 + 1 });
    }
    Ok(out)
}

/// Outcome of identifying one staged asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Matches an existing asset through the identifier kind `rule`.
    Existing { asset_id: i64, rule: IdentifierKind },
    /// A new asset, named by the identifier kind `rule`.
    New { rule: IdentifierKind },
}

/// Applies `rules` (any order; sorted here by precedence) to the identifiers of one asset.
/// `lookup` answers "which asset already owns this identifier". Returns `None` when no
/// enabled rule applies to any identifier the asset has.
pub fn resolve(
    rules: &[IdentificationRule],
    kind: AssetKind,
    identifiers: &[Identifier],
    mut lookup: impl FnMut(&Identifier) -> Option<i64>,
) -> Option<Resolution> {
    let mut ordered: Vec<&IdentificationRule> = rules.iter().filter(|r| r.asset_kind == kind).collect();
    ordered.sort_by_key(|r| r.precedence);
    let mut first_applicable = None;
    for rule in ordered {
        for id in identifiers.iter().filter(|i| i.kind == rule.identifier) {
            first_applicable.get_or_insert(rule.identifier);
            if let Some(asset_id) = lookup(id) {
                return Some(Resolution::Existing { asset_id, rule: rule.identifier });
            }
        }
    }
    first_applicable.map(|rule| Resolution::New { rule })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(kind: IdentifierKind, v: &str) -> Identifier {
        Identifier { kind, value: v.into() }
    }

    #[test]
    fn precedence_decides_the_match() {
        let rules = default_rules();
        let ids = [id(IdentifierKind::AgentId, "x:1"), id(IdentifierKind::Mac, "m"), id(IdentifierKind::Fqdn, "f")];
        // Only the MAC is known: matched by `mac` even though agent id is stronger.
        let r = resolve(&rules, AssetKind::Host, &ids, |i| (i.value == "m").then_some(7));
        assert_eq!(r, Some(Resolution::Existing { asset_id: 7, rule: IdentifierKind::Mac }));
        // Agent id and FQDN point at different assets: agent id wins.
        let r = resolve(&rules, AssetKind::Host, &ids, |i| match i.value.as_str() {
            "x:1" => Some(1),
            "f" => Some(2),
            _ => None,
        });
        assert_eq!(r, Some(Resolution::Existing { asset_id: 1, rule: IdentifierKind::AgentId }));
        let r = resolve(&rules, AssetKind::Host, &ids, |_| None);
        assert_eq!(r, Some(Resolution::New { rule: IdentifierKind::AgentId }));
    }

    #[test]
    fn edited_rules_reorder_and_disable() {
        let rules = rules_for(AssetKind::Host, &[IdentifierKind::Fqdn, IdentifierKind::Mac]).unwrap();
        let ids = [id(IdentifierKind::AgentId, "a"), id(IdentifierKind::Mac, "m"), id(IdentifierKind::Fqdn, "f")];
        let r = resolve(&rules, AssetKind::Host, &ids, |i| (i.kind != IdentifierKind::AgentId).then_some(3));
        assert_eq!(r, Some(Resolution::Existing { asset_id: 3, rule: IdentifierKind::Fqdn }));
        assert_eq!(resolve(&rules, AssetKind::Host, &ids[..1], |_| Some(1)), None);
        assert!(rules_for(AssetKind::Repository, &[IdentifierKind::Mac]).is_err());
        assert!(rules_for(AssetKind::Host, &[IdentifierKind::Mac, IdentifierKind::Mac]).is_err());
    }
}
