//! The real `flowpilot-cli` on a data folder of its own. The binary's path comes
//! from the test (`env!("CARGO_BIN_EXE_flowpilot-cli-under-test")`: cargo only
//! tells integration tests where it is).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// `flowpilot-cli` with a data folder and extra environment variables.
#[derive(Debug, Clone)]
pub struct Cli {
    bin: PathBuf,
    data_dir: PathBuf,
    env: Vec<(String, String)>,
}

/// What a command printed and how it ended.
#[derive(Debug, Clone)]
pub struct Printed {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Printed {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// stdout as JSON; fails the test with both streams when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }

    /// Both streams, for assertions about everything the command said.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl From<Output> for Printed {
    fn from(o: Output) -> Self {
        Printed {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Cli {
    pub fn new(bin: impl Into<PathBuf>, data_dir: &Path) -> Cli {
        Cli {
            bin: bin.into(),
            data_dir: data_dir.to_path_buf(),
            env: Vec::new(),
        }
    }

    pub fn env(mut self, name: &str, value: impl AsRef<std::ffi::OsStr>) -> Cli {
        self.env
            .push((name.to_string(), value.as_ref().to_string_lossy().into_owned()));
        self
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.bin);
        command
            .args(args)
            .env("FLOWPILOT_DATA_DIR", &self.data_dir)
            .env_remove("RUST_LOG");
        for (k, v) in &self.env {
            command.env(k, v);
        }
        command
    }

    /// Run to the end (blocking: call from `spawn_blocking` in async tests).
    pub fn run(&self, args: &[&str]) -> Printed {
        self.command(args).output().expect("run flowpilot-cli").into()
    }

    /// Run with `stdin` written to its standard input (a secret for `credentials set`).
    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Printed {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start flowpilot-cli");
        if let Some(mut input) = child.stdin.take() {
            input.write_all(stdin.as_bytes()).expect("write to flowpilot-cli");
        }
        child.wait_with_output().expect("wait for flowpilot-cli").into()
    }

    /// Start it and hand the child over (to watch its memory while it runs).
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start flowpilot-cli")
    }
}
