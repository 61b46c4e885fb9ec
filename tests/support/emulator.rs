//! An AWS emulator of a test's own, as a child process that the test can
//! kill and start again: `infra/python/emulator.py` with a journal, so what it
//! acknowledged before a restart is there after it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::workspace_root;

pub struct Emulator {
    pub port: u16,
    pub journal: PathBuf,
    child: Option<Child>,
}

impl Emulator {
    /// Starts on a free port with a fresh journal.
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let journal =
            std::env::temp_dir().join(format!("profile-link-journal-{}.jsonl", profile_link_core::random::token(9)));
        let mut emulator = Self { port, journal, child: None };
        emulator.restart().await;
        emulator
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills the process the way a crash does (SIGKILL: no chance to flush anything).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Starts the emulator again on the same port and journal; returns once it answers.
    pub async fn restart(&mut self) {
        self.kill();
        let root = workspace_root();
        let child = Command::new(root.join(".venv/bin/python"))
            .arg(root.join("infra/python/emulator.py"))
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string(), "--journal"])
            .arg(&self.journal)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the project virtualenv's python (scripts/test installs it)");
        self.child = Some(child);
        let ready = format!("{}/moto-api/", self.endpoint());
        // Generous: moto imports slowly on a busy machine, and a restart replays the journal first.
        for _ in 0..1200 {
            if reqwest::get(&ready).await.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the emulator on port {} did not start", self.port);
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.journal);
    }
}
