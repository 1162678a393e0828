//! `tributary demo`: the simulators, a Cortex XDR and a Semgrep integration synced from
//! them, and the server — a populated instance in one command, on loopback only.

use anyhow::{Context, Result};
use serde_json::json;
use tributary_core::secret::Secret;
use tributary_engine::SyncOptions;
use tributary_engine::integrations::NewIntegration;
use tributary_sim::config::{DEFAULT_SEMGREP_TOKEN, DEFAULT_XDR_KEY, DEFAULT_XDR_KEY_ID};
use tributary_sim::{Scale, SimConfig, SimServer};
use tributary_store::repo::integrations;

use super::sync::ProgressView;
use super::{Ctx, runtime};
use crate::args::DemoArgs;

/// The demo's integrations, against the simulator at `sim`.
fn demo_integrations(sim: &SimServer) -> Vec<NewIntegration> {
    vec![
        NewIntegration {
            name: "demo-xdr".into(),
            kind: "cortex-xdr".into(),
            base_url: sim.base_url("cortex-xdr"),
            config: json!({"key_id": DEFAULT_XDR_KEY_ID, "security": "standard"}),
            secret: Secret::new(DEFAULT_XDR_KEY),
            test: true,
        },
        NewIntegration {
            name: "demo-semgrep".into(),
            kind: "semgrep".into(),
            base_url: sim.base_url("semgrep"),
            config: json!({"scan": ["sast", "sca"], "auto_map_future": true}),
            secret: Secret::new(DEFAULT_SEMGREP_TOKEN),
            test: true,
        },
    ]
}

pub fn run(ctx: &Ctx, args: DemoArgs) -> Result<()> {
    let engine = ctx.engine()?;
    let store = engine.store.clone();
    let rt = runtime()?;
    rt.block_on(async move {
        let sim = tributary_sim::start(SimConfig::new(args.seed, Scale::small()), args.sim_listen)
            .await
            .with_context(|| format!("cannot start the simulators on {} (is the port taken? use --sim-listen)", args.sim_listen))?;
        eprintln!("simulators (Semgrep, Cortex XDR, Cortex Cloud) on http://{}", sim.addr);
        for new in demo_integrations(&sim) {
            let name = new.name.clone();
            // A second demo run keeps the integrations and points them at this simulator.
            let (st, n, url) = (store.clone(), name.clone(), new.base_url.clone());
            let existing = tokio::task::spawn_blocking(move || {
                st.write(|c| match integrations::find(c, &n)? {
                    Some(i) => integrations::set_base_url(c, i.id, &url).map(|()| true),
                    None => Ok(false),
                })
            })
            .await??;
            if !existing {
                engine.add_integration(new, "demo").await.with_context(|| format!("cannot add the demo integration '{name}'"))?;
            }
            let view = ProgressView::new(&name);
            match engine.sync(&name, SyncOptions::default(), view.clone()).await {
                Ok(run) => view.finish(&run),
                Err(e) => {
                    view.abandon();
                    return Err(anyhow::anyhow!("demo sync of '{name}' failed: {e}"));
                }
            }
        }
        let dir = ctx.data_dir.display();
        println!();
        println!("Try, in another shell:");
        println!("  tributary --data-dir {dir} integration list");
        println!("  tributary --data-dir {dir} query 'finding.severity>=high finding.kind:vulnerability' --limit 5");
        println!("  tributary --data-dir {dir} query 'finding.vendorProductName:`Semgrep Code`' --count");
        println!("  tributary --data-dir {dir} projects list --integration demo-semgrep");
        if args.no_serve {
            sim.stop().await;
            return Ok(());
        }
        let note = " (Ctrl-C stops the server and the simulators)";
        let served = super::serve::serve_and_schedule(
            engine,
            args.listen,
            Some(tributary_engine::scheduler::DEFAULT_TICK),
            note,
            super::serve::ctrl_c(),
        )
        .await;
        sim.stop().await;
        served
    })
}
