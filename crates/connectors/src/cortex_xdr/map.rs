//! The default Cortex XDR transform map: exactly the 22 rows of the product's table
//! (seed 002, "Cortex XDR Transformation Map (Vulnerabilities)").

use tributary_core::transform::{RuleSpec, TargetModel, TransformMapSpec};

pub const DEFAULT_MAP: &str = "cortex-xdr-default";

const ROWS: [(&str, &str); 22] = [
    ("endpoint_id", "externalAssetId"),
    ("endpoint_name", "hostName"),
    ("operating_system", "operatingSystem.name"),
    ("os_version", "operatingSystem.version"),
    ("domain", "domain"),
    ("endpoint_type", "type"),
    ("first_seen", "firstFoundDate"),
    ("allIPs", "networkInterfaces[].ipAddress"),
    ("ip", "networkInterfaces[].ipv4Address"),
    ("ipv6", "networkInterfaces[].ipv6Address"),
    ("mac_address[]", "networkInterfaces[].macAddress"),
    ("tags.server_tags", "temp_q_customAttributes.serverTags"),
    ("tags.endpoint_tags", "temp_q_customAttributes.endPointTags"),
    ("cves[].name", "finding[].externalFindingId"),
    ("cves[].name", "finding[].findingType.vulnerability.cveId"),
    ("cves[].severity", "finding[].severity"),
    ("cves[].description", "finding[].description"),
    ("cves[].publication_date", "finding[].firstFoundOn"),
    ("cves[].severity_score", "finding[].sourceRiskScore"),
    ("cves[].severity", "finding[].sourceSeverity"),
    ("cves[].name", "finding[].name"),
    ("cloud_provider", "asset.assetDetail.cloudInfo.provider"),
];

pub fn default_map() -> TransformMapSpec {
    TransformMapSpec {
        name: DEFAULT_MAP.into(),
        description: Some(
            "Cortex XDR endpoints and their CVEs → host assets and vulnerability findings (the product's default table).".into(),
        ),
        connector: "cortex-xdr".into(),
        source_model: super::STREAM.into(),
        target_model: TargetModel::HostVulnerability,
        product: None,
        rules: ROWS.iter().map(|(s, t)| RuleSpec::new(s, t)).collect(),
    }
}

pub const EXPOSURE_MAP: &str = "cortex-xdr-exposure-default";

/// Attack-surface records → the agent's host (joined by `agent_id`): its cloud instance and
/// whether the internet reaches it. No findings (its findings come from the endpoints).
pub fn exposure_map() -> TransformMapSpec {
    let rows: [(&str, &str, &[&str]); 8] = [
        ("asm_ids", "externalAssetId", &["first"]),
        ("agent_id", "asset.assetDetail.agentId", &[]),
        ("name", "name", &[]),
        ("cloud_provider", "asset.assetDetail.cloudInfo.provider", &[]),
        ("cloud_id", "asset.assetDetail.cloudInfo.instanceId", &[]),
        ("has_active_externally_services", "exposure.internetExposed", &[]),
        ("service_type", "exposure.services", &[]),
        ("ips", "exposure.ips", &[]),
    ];
    TransformMapSpec {
        name: EXPOSURE_MAP.into(),
        description: Some(
            "Attack-surface exposure records → the endpoint's host (by agent id): cloud instance id and internet exposure.".into(),
        ),
        connector: "cortex-xdr".into(),
        source_model: super::exposure::STREAM.into(),
        target_model: TargetModel::Host,
        product: None,
        rules: rows
            .iter()
            .map(|(s, t, c)| RuleSpec { source: s.to_string(), target: t.to_string(), convert: c.iter().map(|x| x.to_string()).collect() })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_core::transform::TransformMap;

    #[test]
    fn the_default_map_is_the_seed_table_and_valid() {
        let m = default_map();
        assert_eq!(m.rules.len(), 22);
        assert!(TransformMap::compile(m).is_ok());
        assert!(TransformMap::compile(exposure_map()).is_ok());
    }
}
