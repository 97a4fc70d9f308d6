//! Starting a `refsup` process and learning where it listens: the one
//! launcher the suite's embedded target and every test harness use.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// How to start one refsup process.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The program and the arguments before refsup's own (`["lockcheck",
    /// "refsup"]` for the embedded copy, or the refsup binary alone).
    pub program: Vec<String>,
    /// `--root`.
    pub root: PathBuf,
    /// `SUPERVISOR@OS`.
    pub profile: String,
    /// More flags (`--fault ...`, `--pause-after-lock ...`).
    pub extra: Vec<String>,
    /// Where its stderr (the log) goes; `None` inherits it.
    pub log: Option<PathBuf>,
}

/// A started refsup: the child and the address it printed.
#[derive(Debug)]
pub struct Launched {
    /// The process (its stdout is consumed).
    pub child: Child,
    /// `http://ADDR`.
    pub url: String,
}

impl Launch {
    /// Start it on `127.0.0.1:0` and wait for its `listening on ADDR` line;
    /// if it exits instead, the error carries the last line it logged.
    pub fn start(&self) -> anyhow::Result<Launched> {
        self.start_with(|_| {})
    }

    /// [`Launch::start`], with `prepare` applied to the command first (a
    /// test harness marks the process, say).
    pub fn start_with(&self, prepare: impl FnOnce(&mut Command)) -> anyhow::Result<Launched> {
        use anyhow::Context;
        let (sup, os) = self
            .profile
            .split_once('@')
            .with_context(|| format!("profile {} is not SUPERVISOR@OS", self.profile))?;
        let (program, pre) = self.program.split_first().context("no program")?;
        let mut cmd = Command::new(program);
        cmd.args(pre)
            .arg("--root")
            .arg(&self.root)
            .args(["--supervisor-version", sup, "--os-version", os])
            .args(["--listen", "127.0.0.1:0"])
            .args(&self.extra)
            .stdout(Stdio::piped());
        if let Some(log) = &self.log {
            let file = std::fs::File::create(log)
                .with_context(|| format!("creating {}", log.display()))?;
            cmd.stderr(Stdio::from(file));
        }
        prepare(&mut cmd);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {program} refsup"))?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("piped stdout")?).read_line(&mut line)?;
        match line.trim().strip_prefix("listening on ") {
            Some(addr) => Ok(Launched {
                child,
                url: format!("http://{addr}"),
            }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                let why = self.log.as_deref().map_or_else(
                    || "no output".to_string(),
                    |log: &Path| {
                        std::fs::read_to_string(log)
                            .ok()
                            .and_then(|t| t.lines().last().map(str::to_string))
                            .unwrap_or_else(|| "no output".into())
                    },
                );
                anyhow::bail!("refsup did not start: {why}")
            }
        }
    }
}
