//! A PostgreSQL server for benchmarks: `TRIBUTARY_BENCH_PG` if set, otherwise a throwaway
//! cluster started with `scripts/pg.sh` and stopped on drop.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

pub struct Pg {
    pub url: String,
    dir: Option<PathBuf>,
}

impl Pg {
    pub fn get() -> Result<Pg> {
        if let Ok(url) = std::env::var("TRIBUTARY_BENCH_PG")
            && !url.trim().is_empty()
        {
            return Ok(Pg { url, dir: None });
        }
        let dir = std::env::temp_dir().join(format!("tributary-bench-pg-{}", std::process::id()));
        let out = Command::new("scripts/pg.sh")
            .arg("start")
            .arg(&dir)
            .output()
            .context("running scripts/pg.sh (run from the repository root)")?;
        if !out.status.success() {
            bail!("could not start PostgreSQL: {}", String::from_utf8_lossy(&out.stderr));
        }
        let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Ok(Pg { url, dir: Some(dir) })
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = Command::new("scripts/pg.sh").arg("stop").arg(dir).output();
        }
    }
}
