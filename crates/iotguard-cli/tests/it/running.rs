//! A long-running `iotguard` (a live source: `--netflow`, `--interface`) driven as an operator
//! would: started, waited for until it says it is ready, signalled, and stopped with SIGINT;
//! killed if a test fails before stopping it. Also whether a tool is installed.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;

/// Whether `program` is on PATH.
pub(crate) fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A running `iotguard`; killed on drop unless stopped.
pub(crate) struct Running {
    child: Option<Child>,
    stderr: Option<JoinHandle<String>>,
}

impl Running {
    /// Starts `iotguard ARGS` and returns once a line of its standard error contains `ready`
    /// (the rest of standard error is read as it comes, so the pipe never fills).
    pub(crate) fn start(args: &[&str], ready: &str) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_iotguard"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut running = Running {
            child: Some(child),
            stderr: None,
        };
        let mut line = String::new();
        while !line.contains(ready) {
            line.clear();
            assert!(
                err.read_line(&mut line).unwrap() > 0,
                "iotguard exited before saying `{ready}`"
            );
        }
        running.stderr = Some(std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            text
        }));
        running
    }

    /// Sends a signal (`STOP`, `CONT`, `INT`).
    pub(crate) fn signal(&self, name: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        assert!(Command::new("kill")
            .args([&format!("-{name}"), pid.as_str()])
            .status()
            .unwrap()
            .success());
    }

    /// Stops it with SIGINT; returns its exit code, its `--json` output and its standard error.
    pub(crate) fn stop(mut self) -> (Option<i32>, serde_json::Value, String) {
        self.signal("INT");
        let out = self.child.take().unwrap().wait_with_output().unwrap();
        let err = self.stderr.take().unwrap().join().unwrap();
        let json = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{err}", String::from_utf8_lossy(&out.stdout)));
        (out.status.code(), json, err)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
