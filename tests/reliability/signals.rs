//! SIGTERM to `flowpilot-cli run` cancels the run cleanly, like Ctrl-C: it is
//! recorded `cancelled` (not left `running`, to be found interrupted later), and
//! the CLI exits 1 with what happened.

use crate::util::{Timed, arg, cli, command, json_out, write_plan};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::json;
use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;

#[test]
fn sigterm_cancels_the_run_and_records_it_cancelled() {
    let _t = Timed::start("SIGTERM to the CLI");
    let data = tempfile::tempdir().unwrap();
    let plan = write_plan(
        data.path(),
        "long.json",
        &json!({"name": "Long", "steps": [
            {"provider": "logic", "action": "set", "params": {"value": 1}},
            {"provider": "delay", "action": "wait", "params": {"seconds": 600}},
            {"provider": "logic", "action": "set", "params": {"value": 2}}
        ]}),
    );
    for signal in [Signal::SIGTERM, Signal::SIGINT] {
        let mut child = command(data.path(), &["run", arg(&plan)])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start flowpilot-cli");
        let mut stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
        let mut said = String::new();
        while !said.contains("[2/3] delay.wait") {
            let mut line = String::new();
            if stderr.read_line(&mut line).expect("read stderr") == 0 {
                panic!("the CLI ended before step 2:\n{said}");
            }
            said.push_str(&line);
        }
        let pid = Pid::from_raw(i32::try_from(child.id()).expect("a pid"));
        kill(pid, signal).expect("signal the CLI");
        stderr.read_to_string(&mut said).expect("read the rest");
        let status = child.wait().expect("the CLI ends");
        assert_eq!(status.code(), Some(1), "{signal}: {said}");
        assert!(said.contains("✘ cancelled"), "{signal}: {said}");
    }
    let runs = json_out(&cli(data.path(), &["runs", "list", "--json"]));
    let statuses: Vec<&str> = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["cancelled", "cancelled"], "{runs:#}");
}
