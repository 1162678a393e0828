//! `tributary serve`: migrate, then serve the API and run the profiles that are due.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Result, bail};
use tributary_app::App;
use tributary_app::auth::FirstAdmin;
use tributary_server::serve;

use super::Ctx;
use crate::args::ServeArgs;

pub fn run(ctx: &Ctx, args: ServeArgs) -> Result<()> {
    let app = ctx.app()?;
    let m = app.opened();
    tracing::info!(message = "Database ready.", db = %m.database, from = ?m.from, to = m.to, key = %m.key);
    let tick = if args.no_scheduler { None } else { Some(scheduler_tick(&args.scheduler_tick)?) };
    let first = first_admin(&app)?;
    print_first_admin(first.as_ref());
    super::runtime()?.block_on(serve_and_schedule(app, args.listen, tick, "", ctrl_c()))
}

/// The environment variable that sets the first administrator's password.
pub const ADMIN_PASSWORD_ENV: &str = "TRIBUTARY_ADMIN_PASSWORD";

/// On a database without users: creates `admin` (password from the environment, or a
/// generated one-time password).
pub fn first_admin(app: &App) -> Result<Option<FirstAdmin>> {
    let pw = std::env::var(ADMIN_PASSWORD_ENV).ok().filter(|p| !p.is_empty());
    Ok(app.ensure_admin(pw.as_deref())?)
}

pub fn print_first_admin(first: Option<&FirstAdmin>) {
    match first {
        Some(FirstAdmin { name, generated_password: Some(pw) }) => {
            eprintln!("Created the first administrator: user '{name}', one-time password {pw}");
            eprintln!("(shown once; change it with `tributary user password {name}`, or set {ADMIN_PASSWORD_ENV} before the first start)");
        }
        Some(FirstAdmin { name, generated_password: None }) => {
            eprintln!("Created the first administrator '{name}' with the password from {ADMIN_PASSWORD_ENV}.");
        }
        None => {}
    }
}

/// `--scheduler-tick`: a duration of at least a second.
fn scheduler_tick(text: &str) -> Result<Duration> {
    let ms = tributary_core::model::profile_duration(text).map_err(|e| anyhow::anyhow!("--scheduler-tick: {e}"))?;
    if ms < 1_000 {
        bail!("--scheduler-tick must be at least 1s, got {text}");
    }
    Ok(Duration::from_millis(ms as u64))
}

/// Resolves on Ctrl-C.
pub async fn ctrl_c() {
    let _ = tokio::signal::ctrl_c().await;
}

/// Serves the API on `listen` and, with a `tick`, runs due profiles until `shutdown`.
/// `note` follows the "listening" line.
pub async fn serve_and_schedule(
    app: App,
    listen: SocketAddr,
    tick: Option<Duration>,
    note: &str,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let scheduler = tick.map(|every| {
        tracing::info!(message = "Scheduler running.", tick_ms = every.as_millis() as u64);
        tokio::spawn(app.scheduler().run(every, stopped(stop_rx.clone())))
    });
    let served = serve(listen, app, stopped(stop_rx), |addr| {
        tracing::info!(message = "Listening.", %addr);
        eprintln!("tributary {} listening on http://{addr}{note}", env!("CARGO_PKG_VERSION"));
    })
    .await;
    if let Some(s) = scheduler {
        let _ = s.await;
    }
    Ok(served?)
}
