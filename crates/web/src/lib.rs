//! Tributary's web UI: server-rendered pages (askama templates under `templates/`) with
//! htmx (vendored under `assets/vendor/`), CSS and a few lines of script, all embedded in
//! the binary — no CDN, no Node build. Like the REST API, every page calls the
//! application layer (`tributary-app`) and nothing else; the roles it enforces there are
//! the roles the pages respect (a viewer gets no forms, and a forged form is refused by
//! the same check). Sessions and CSRF: [`session`].
//!
//! Where to look: [`pages`] (one module per area, each a handful of thin handlers),
//! [`charts`] (the dashboard's SVG), `templates/` (the HTML).

pub mod charts;
pub mod pages;
pub mod session;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tributary_app::App;

const HTMX: &str = include_str!("../assets/vendor/htmx-2.0.11.min.js");
const CSS: &str = include_str!("../assets/app.css");
const JS: &str = include_str!("../assets/app.js");
const ICON: &str = include_str!("../assets/icon.svg");

/// Embedded files are served with a long cache life: their URLs change with the version.
fn asset(body: &'static str, content_type: &'static str) -> impl IntoResponse {
    (StatusCode::OK, [(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=86400")], body)
}

/// The UI's routes (merged into the server's router, which adds the state).
pub fn router() -> Router<App> {
    Router::new()
        .route("/", get(pages::dashboard::page))
        .route("/login", get(pages::auth::login_page).post(pages::auth::login))
        .route("/logout", post(pages::auth::logout))
        .route("/findings", get(pages::findings::list))
        .route("/findings/export", get(pages::findings::export))
        .route("/findings/views", post(pages::findings::save_view))
        .route("/assets", get(pages::assets::list))
        .route("/assets/{id}", get(pages::assets::detail))
        .route("/assets/{id}/criticality", post(pages::assets::criticality))
        .route("/findings/{id}", get(pages::findings::detail))
        .route("/findings/{id}/triage", post(pages::findings::triage))
        .route("/findings/{id}/comments", post(pages::findings::comment))
        .route("/issues", get(pages::issues::list))
        .route("/issues/{id}", get(pages::issues::detail))
        .route("/integrations", get(pages::admin::integrations).post(pages::config::add_integration))
        .route("/integrations/new", get(pages::config::new_integration))
        .route("/integrations/{name}", get(pages::config::integration))
        .route("/integrations/{name}/sync", post(pages::ops::sync_now))
        .route("/integrations/{name}/projects", post(pages::config::map_project))
        .route("/runs", get(pages::ops::runs))
        .route("/runs/{id}/row", get(pages::ops::run_row_fragment))
        .route("/profiles", get(pages::ops::profiles).post(pages::ops::add_profile))
        .route("/profiles/{name}/active", post(pages::ops::set_profile_active))
        .route("/policies", get(pages::ops::policies).post(pages::ops::add_policy))
        .route("/policies/{name}/delete", post(pages::ops::delete_policy))
        .route("/webhooks", get(pages::ops::webhooks).post(pages::ops::add_webhook))
        .route("/settings", get(pages::ops::settings))
        .route("/settings/tokens", post(pages::ops::create_token))
        .route("/settings/users", post(pages::ops::add_user))
        .route("/settings/tokens/{id}/revoke", post(pages::ops::revoke_token))
        .route("/maps", get(pages::config::maps))
        .route("/maps/{name}", get(pages::config::map).post(pages::config::save_map))
        .route("/maps/{name}/validate", post(pages::config::validate_map))
        .route("/maps/{name}/preview", post(pages::config::preview_map))
        .route("/projects", get(pages::admin::projects))
        .route("/coverage", get(pages::admin::coverage))
        .route("/ui/vendor/htmx-2.0.11.min.js", get(|| async { asset(HTMX, "text/javascript; charset=utf-8") }))
        .route("/ui/app.css", get(|| async { asset(CSS, "text/css; charset=utf-8") }))
        .route("/ui/app.js", get(|| async { asset(JS, "text/javascript; charset=utf-8") }))
        .route("/ui/icon.svg", get(|| async { asset(ICON, "image/svg+xml") }))
}

/// An export as a streamed download: the chunks `App::export_chunks` sends, cut short (a
/// failed download, never a whole-looking file) if the export fails mid-way.
pub fn export_download(
    format: tributary_app::export::ExportFormat,
    rx: tokio::sync::mpsc::Receiver<tributary_app::Result<Vec<u8>>>,
) -> axum::response::Response {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item.map_err(|e| std::io::Error::other(e.to_string())), rx))
    });
    let disposition = format!("attachment; filename=\"tributary-findings.{}\"", format.extension());
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, format.content_type().to_string()), (header::CONTENT_DISPOSITION, disposition)],
        axum::body::Body::from_stream(stream),
    )
        .into_response()
}

/// Every page's path, for tests that visit them all.
pub const PAGES: &[&str] = &[
    "/",
    "/findings",
    "/issues",
    "/assets",
    "/integrations",
    "/projects",
    "/coverage",
    "/runs",
    "/profiles",
    "/policies",
    "/maps",
    "/webhooks",
    "/settings",
];
