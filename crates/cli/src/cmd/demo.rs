//! `tributary demo`: the simulators, Cortex XDR, Cortex Cloud and Semgrep integrations
//! synced from them, and the server — a populated instance in one command, on loopback
//! only.

use anyhow::{Context, Result};
use tributary_app::SyncOptions;
use tributary_app::integrations::{AddIntegration, CloudConfig, ConnectorSettings, HttpSettings, SecurityLevel, SemgrepConfig, XdrConfig};
use tributary_core::secret::Secret;
use tributary_sim::config::{DEFAULT_CLOUD_KEY, DEFAULT_CLOUD_KEY_ID, DEFAULT_SEMGREP_TOKEN, DEFAULT_XDR_KEY, DEFAULT_XDR_KEY_ID};
use tributary_sim::{Scale, SimConfig, SimServer};

use super::sync::ProgressView;
use super::{Ctx, runtime};
use crate::args::DemoArgs;

/// The demo's integrations, against the simulator at `sim`.
fn demo_integrations(sim: &SimServer) -> Vec<AddIntegration> {
    let xdr = XdrConfig {
        key_id: DEFAULT_XDR_KEY_ID.into(),
        security: SecurityLevel::Standard,
        types: vec!["vulnerability".into(), "host-asset".into(), "internet-exposure".into()],
        http: HttpSettings::default(),
    };
    let semgrep = SemgrepConfig {
        scan: vec!["sast".into(), "sca".into()],
        auto_map_future: true,
        write_back: true,
        deployment: None,
        deployment_name: None,
        page_size: None,
        listing_cap: None,
        http: HttpSettings::default(),
    };
    vec![
        AddIntegration {
            name: "demo-xdr".into(),
            base_url: sim.base_url("cortex-xdr"),
            settings: ConnectorSettings::CortexXdr(xdr),
            secret: Secret::new(DEFAULT_XDR_KEY),
            test: true,
        },
        AddIntegration {
            name: "demo-cloud".into(),
            base_url: sim.base_url("cortex-cloud"),
            settings: ConnectorSettings::CortexCloud(CloudConfig {
                key_id: DEFAULT_CLOUD_KEY_ID.into(),
                security: SecurityLevel::Standard,
                page_size: None,
                http: HttpSettings::default(),
            }),
            secret: Secret::new(DEFAULT_CLOUD_KEY),
            test: true,
        },
        AddIntegration {
            name: "demo-semgrep".into(),
            base_url: sim.base_url("semgrep"),
            settings: ConnectorSettings::Semgrep(semgrep),
            secret: Secret::new(DEFAULT_SEMGREP_TOKEN),
            test: true,
        },
    ]
}

pub fn run(ctx: &Ctx, args: DemoArgs) -> Result<()> {
    let app = ctx.app()?;
    let who = ctx.who();
    super::serve::print_first_admin(super::serve::first_admin(&app)?.as_ref());
    let rt = runtime()?;
    rt.block_on(async move {
        let sim = tributary_sim::start(SimConfig::new(args.seed, Scale::small()), args.sim_listen)
            .await
            .with_context(|| format!("cannot start the simulators on {} (is the port taken? use --sim-listen)", args.sim_listen))?;
        eprintln!("simulators (Semgrep, Cortex XDR, Cortex Cloud) on http://{}", sim.addr);
        for new in demo_integrations(&sim) {
            let name = new.name.clone();
            // A second demo run keeps the integrations and points them at this simulator.
            let (n, url, w) = (name.clone(), new.base_url.clone(), who.clone());
            let existing = app
                .blocking(move |app| {
                    let found = app.has_integration(&w, &n)?;
                    if found {
                        app.set_integration_url(&w, &n, &url)?;
                    }
                    Ok(found)
                })
                .await?;
            if !existing {
                app.add_integration(&who, new).await.with_context(|| format!("cannot add the demo integration '{name}'"))?;
            }
            let view = ProgressView::new(&name);
            match app.sync(&who, &name, SyncOptions::default(), view.clone()).await {
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
        println!("  tributary --data-dir {dir} issues --limit 10");
        println!("  tributary --data-dir {dir} context");
        if args.no_serve {
            sim.stop().await;
            return Ok(());
        }
        let note = " (Ctrl-C stops the server and the simulators)";
        let served =
            super::serve::serve_and_schedule(app, args.listen, Some(tributary_app::scheduler_tick_default()), note, super::serve::ctrl_c())
                .await;
        sim.stop().await;
        served
    })
}
