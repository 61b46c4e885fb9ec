//! A DynamoDB Local of a test's own, as a child process the test can kill and
//! start again. It keeps its database on disk (`-dbPath`), so what it
//! acknowledged before a crash is there after the restart, stream included,
//! as it would be in DynamoDB.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::workspace_root;

pub struct DynamoDbLocal {
    pub port: u16,
    pub db_dir: PathBuf,
    child: Option<Child>,
}

impl DynamoDbLocal {
    /// Starts on a free port with an empty database directory.
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let db_dir = std::env::temp_dir().join(format!("profile-link-ddb-{}", profile_link_core::random::token(9)));
        std::fs::create_dir_all(&db_dir).unwrap();
        let mut server = Self { port, db_dir, child: None };
        server.restart().await;
        server
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

    /// Starts DynamoDB Local again on the same port and database; returns once it answers.
    pub async fn restart(&mut self) {
        self.kill();
        let child = Command::new(workspace_root().join("infra/dynamodb-local/run"))
            .arg(self.port.to_string())
            .arg("--db-path")
            .arg(&self.db_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("infra/dynamodb-local/run (scripts/test installs DynamoDB Local)");
        self.child = Some(child);
        // Any HTTP answer means it listens (it answers a bare GET with 400).
        // Generous: the JVM starts slowly on a busy machine.
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last = String::from("no attempt");
        while Instant::now() < deadline {
            match reqwest::get(self.endpoint()).await {
                Ok(_) => return,
                Err(e) => last = e.to_string(),
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!("DynamoDB Local on port {} exited with {status} before answering", self.port);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("DynamoDB Local on port {} did not answer within 60 s (last: {last})", self.port);
    }
}

impl Drop for DynamoDbLocal {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.db_dir);
    }
}
