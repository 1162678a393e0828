//! `tributary serve`: migrate, then serve the API.

use anyhow::Result;
use tributary_server::{AppState, serve};

use super::Ctx;
use crate::args::ServeArgs;

pub fn run(ctx: &Ctx, args: ServeArgs) -> Result<()> {
    let store = ctx.store()?;
    let m = store.migration();
    tracing::info!(message = "Database ready.", db = %store.url(), from = ?m.from, to = m.to, key = %store.key_origin());
    let rt = super::runtime()?;
    rt.block_on(async move {
        let state = AppState { store };
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        serve(args.listen, state, shutdown, |addr| {
            tracing::info!(message = "Listening.", %addr);
            eprintln!("tributary {} listening on http://{addr}", env!("CARGO_PKG_VERSION"));
        })
        .await
    })?;
    Ok(())
}
