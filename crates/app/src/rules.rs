//! Identification rules: per asset kind, which identifiers match records to assets, in
//! order of precedence.

use serde_json::json;
use tributary_core::identify::{IdentificationRule, IdentifierKind};
use tributary_core::model::{AssetKind, Role};
use tributary_store::repo::rules;

use crate::{App, AppError, Principal, Result};

impl App {
    pub fn identification_rules(&self, who: &Principal) -> Result<Vec<IdentificationRule>> {
        who.require(Role::Viewer, "listing identification rules")?;
        Ok(self.store().read(rules::list)?)
    }

    /// Sets the identifier order of an asset kind (names as text, checked here).
    pub fn set_identification_rules(&self, who: &Principal, kind: &str, order: &[String]) -> Result<Vec<IdentificationRule>> {
        who.require(Role::Analyst, "changing identification rules")?;
        let kind: AssetKind = kind.parse().map_err(|e| AppError::invalid("kind", format!("{e}")))?;
        let order = order
            .iter()
            .map(|o| o.parse::<IdentifierKind>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AppError::invalid("order", format!("{e}")))?;
        let names: Vec<&str> = order.iter().map(|o| o.as_str()).collect();
        self.change(who, "rules.set", kind.as_str(), |c| Ok((rules::set(c, kind, &order)?, json!({"order": names}))))
    }
}
