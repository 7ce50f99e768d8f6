//! Running the HTTP server.

use std::net::SocketAddr;
use std::time::Duration;

use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};

use crate::http::{AppState, routes};

/// A bound listener, not yet answering: whoever started it learns the
/// address (port 0 picks a free one) before the first request.
pub struct Bound {
    acceptor: TcpAcceptor,
    addr: SocketAddr,
}

pub async fn bind(addr: &str) -> std::io::Result<Bound> {
    let acceptor = TcpListener::bind(addr.to_owned()).into_acceptor().await?;
    let addr = acceptor
        .local_addr()
        .into_iter()
        .find_map(|a| a.as_socket_addr().copied())
        .ok_or_else(|| std::io::Error::other("the listener has no socket address"))?;
    Ok(Bound { acceptor, addr })
}

impl Bound {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` resolves, then answers the requests in
    /// flight for a bounded time.
    pub async fn serve(self, state: AppState, shutdown: impl std::future::Future<Output = ()> + Send) -> std::io::Result<()> {
        let app = routes::app(state).await;
        poem::Server::new_with_acceptor(self.acceptor).run_with_graceful_shutdown(app, shutdown, Some(Duration::from_secs(5))).await
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
