//! Saved views: a user's named queries with their sort, for the list pages. Kept per user
//! as one setting (`meta`), audited like every change.

use serde::{Deserialize, Serialize};

use crate::{App, AppError, Principal, Result, Role};

/// A named query and sort.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SavedView {
    pub name: String,
    pub q: String,
    #[serde(default)]
    pub sort: String,
}

/// Views one user may keep.
pub const MAX_VIEWS: usize = 50;

fn key(who: &Principal) -> String {
    match who.user_id {
        Some(id) => format!("views:user:{id}"),
        None => format!("views:{}", who.name),
    }
}

impl App {
    /// The caller's saved views, in the order saved.
    pub fn saved_views(&self, who: &Principal) -> Result<Vec<SavedView>> {
        who.require(Role::Viewer, "reading saved views")?;
        self.setting(&key(who))
    }

    /// Saves (or replaces) a view of the caller's; the query must compile.
    pub fn save_view(&self, who: &Principal, name: &str, q: &str, sort: &str) -> Result<Vec<SavedView>> {
        who.require(Role::Viewer, "saving a view")?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 60 {
            return Err(AppError::invalid("name", "1-60 characters"));
        }
        if !q.trim().is_empty() {
            self.compile(q, Some(tributary_store::query::Entity::Finding))?;
        }
        let mut views: Vec<SavedView> = self.setting(&key(who))?;
        views.retain(|v| v.name != name);
        if views.len() >= MAX_VIEWS {
            return Err(AppError::invalid("name", format!("at most {MAX_VIEWS} saved views; delete one first")));
        }
        views.push(SavedView { name: name.to_string(), q: q.trim().to_string(), sort: sort.trim().to_string() });
        self.set_setting(who, "view.save", &key(who), &views)?;
        Ok(views)
    }

    pub fn delete_view(&self, who: &Principal, name: &str) -> Result<()> {
        who.require(Role::Viewer, "deleting a view")?;
        let mut views: Vec<SavedView> = self.setting(&key(who))?;
        let before = views.len();
        views.retain(|v| v.name != name);
        if views.len() == before {
            return Err(AppError::NotFound { what: "saved view", name: name.to_string() });
        }
        self.set_setting(who, "view.delete", &key(who), &views)
    }
}
