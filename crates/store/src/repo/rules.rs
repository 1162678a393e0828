//! Identification rules: the precedence of identifier kinds per asset kind.

use tributary_core::identify::{IdentificationRule, IdentifierKind, rules_for};
use tributary_core::model::AssetKind;

use super::parse_enum;
use crate::conn::Conn;
use crate::error::{Result, StoreError};
use crate::params;

pub fn list(conn: &mut dyn Conn) -> Result<Vec<IdentificationRule>> {
    conn.query("SELECT asset_kind, identifier, precedence FROM identification_rules ORDER BY asset_kind, precedence", &[])?
        .into_iter()
        .map(|mut r| {
            Ok(IdentificationRule {
                asset_kind: parse_enum(&r.take::<String>(0)?)?,
                identifier: parse_enum(&r.take::<String>(1)?)?,
                precedence: r.get(2)?,
            })
        })
        .collect()
}

/// Replaces the precedence list of one asset kind (validated: applicable, no duplicates).
pub fn set(conn: &mut dyn Conn, kind: AssetKind, order: &[IdentifierKind]) -> Result<Vec<IdentificationRule>> {
    let rules = rules_for(kind, order).map_err(|e| StoreError::Invalid(e.to_string()))?;
    conn.execute("DELETE FROM identification_rules WHERE asset_kind = ?", params![kind.as_str()])?;
    for r in &rules {
        conn.execute(
            "INSERT INTO identification_rules (asset_kind, identifier, precedence) VALUES (?, ?, ?)",
            params![r.asset_kind.as_str(), r.identifier.as_str(), r.precedence],
        )?;
    }
    Ok(rules)
}
