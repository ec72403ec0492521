//! What the command-line tests share: the real `anju` binary run on a data directory, its
//! failures shown with what it printed, and processes and servers that stop with the test.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Output};
use std::time::Duration;

/// The `anju` binary of this build.
pub fn anju() -> Command {
    Command::new(env!("CARGO_BIN_EXE_anju"))
}

/// `anju --data-dir <data>`, ready for its arguments.
pub fn anju_in(data: &Path) -> Command {
    let mut c = anju();
    c.arg("--data-dir").arg(data);
    c
}

/// `anju --data-dir <data> <args>`, run to its end.
pub fn run_in(data: &Path, args: &[&str]) -> Output {
    anju_in(data).args(args).output().unwrap()
}

/// The command succeeded; if not, the failure shows what it printed on standard error.
pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sets up 汶上 in `data` as an operator does, with `anju init`.
pub fn init_wenshang(data: &Path) {
    assert_success(&run_in(data, &["init", "--county", "汶上"]));
}

/// A process the test started (a server, chromedriver), killed when the test ends however it
/// ends.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An app whose one page, `/slow`, takes 800 ms: a request still in flight at shutdown.
pub fn slow_app() -> axum::Router {
    axum::Router::new().route(
        "/slow",
        axum::routing::get(|| async {
            tokio::time::sleep(Duration::from_millis(800)).await;
            "done"
        }),
    )
}

/// The server told to stop returns within 5 seconds, and no new connection reaches `addr`.
pub async fn assert_shut_down(
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    addr: SocketAddr,
) {
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server returned after its last request")
        .unwrap()
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no new connections after shutdown"
    );
}
