//! The default map: a repository record → a repository asset (identified by its URL, so
//! it is the same asset a Semgrep project maps to) with its deployment context. The
//! deployment and exposure source fields are our choice (undocumented upstream,
//! vendor-apis.md §3.4): a tenant that names them otherwise needs a map edit only.

use tributary_core::transform::{RuleSpec, TargetModel, TransformMapSpec};

pub const MAP: &str = "cortex-cloud-repository-default";

const ROWS: &[(&str, &str)] = &[
    ("assetId", "externalAssetId"),
    ("fullRepositoryName", "name"),
    ("fullRepositoryName", "repository.name"),
    ("repositoryUrl", "repository.url"),
    ("source", "repository.provider"),
    ("provider", "repository.provider"),
    ("defaultBranch", "repository.defaultBranch"),
    ("visibility", "repository.visibility"),
    ("lastScanTime", "repository.lastScanDate"),
    ("deploymentStatus", "deployment.status"),
    ("internetExposure", "deployment.internetExposure"),
    ("internetExposureReason", "deployment.exposureReason"),
    ("deployedAssets", "deployment.assets"),
];

pub fn default_map() -> TransformMapSpec {
    TransformMapSpec {
        name: MAP.into(),
        description: Some(
            "Cortex Cloud repositories → repository assets (by URL) with deployment status, internet exposure and the deployed workloads as evidence."
                .into(),
        ),
        connector: super::KIND.name.into(),
        source_model: STREAM_NAME.into(),
        target_model: TargetModel::Repository,
        product: Some(super::PRODUCT.into()),
        rules: ROWS.iter().map(|(s, t)| RuleSpec { source: s.to_string(), target: t.to_string(), convert: Vec::new() }).collect(),
    }
}

const STREAM_NAME: &str = super::STREAM;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tributary_core::transform::{TransformMap, stage};

    #[test]
    fn a_repository_becomes_a_repository_asset_with_its_context() {
        let m = TransformMap::compile(default_map()).unwrap();
        let rec = json!({
            "assetId": "repo-7f3a", "fullRepositoryName": "acme/payments-api",
            "repositoryUrl": "https://github.com/acme/payments-api", "source": "GITHUB",
            "deploymentStatus": "DEPLOYED", "internetExposure": "UNSUPPORTED",
            "internetExposureReason": "Internet exposure detection is not supported for AWS classic load balancers",
            "deployedAssets": [{"assetId": "a9", "assetName": "payments-vm-0", "assetType": "Compute Instance", "internetExposed": null}]
        });
        let staged = stage(m.apply(&rec), m.spec.target_model, "cortex-cloud", PRODUCT_NAME);
        let asset = staged.asset.expect("an asset");
        assert!(staged.findings.is_empty());
        let attrs: serde_json::Value = serde_json::from_str(&asset.attributes).unwrap();
        assert_eq!(attrs["deployment"]["internetExposure"], "UNSUPPORTED");
        assert_eq!(attrs["deployment"]["assets"][0]["assetName"], "payments-vm-0");
    }

    const PRODUCT_NAME: &str = super::super::PRODUCT;
}
