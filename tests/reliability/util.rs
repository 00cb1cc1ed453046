//! What the reliability cases share: the real `flowpilot-cli` on a data folder,
//! plan files, and a line saying how long a case took.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

/// The `flowpilot-cli` binary this package builds for its tests.
pub fn cli_path() -> &'static str {
    env!("CARGO_BIN_EXE_flowpilot-cli-under-test")
}

/// `flowpilot-cli` on a data folder, to the end.
pub fn cli(data_dir: &Path, args: &[&str]) -> Output {
    command(data_dir, args).output().expect("run flowpilot-cli")
}

/// `flowpilot-cli` on a data folder, not started yet.
pub fn command(data_dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(cli_path());
    cmd.args(args)
        .env("FLOWPILOT_DATA_DIR", data_dir)
        .env_remove("RUST_LOG");
    cmd
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// stdout as JSON; fails the test with both streams when it is not.
pub fn json_out(o: &Output) -> Value {
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\nstderr: {}", stdout(o), stderr(o)))
}

pub fn write_plan(dir: &Path, name: &str, plan: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(plan).expect("a plan serialises")).expect("write the plan file");
    path
}

pub fn arg(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// Prints how long a case took when dropped (`cargo test -- --nocapture` shows it).
pub struct Timed(&'static str, Instant);

impl Timed {
    pub fn start(case: &'static str) -> Self {
        Self(case, Instant::now())
    }
}

impl Drop for Timed {
    fn drop(&mut self) {
        eprintln!("reliability case {}: {:.2} s", self.0, self.1.elapsed().as_secs_f64());
    }
}
