//! [`Server`]: the HTTP server on threads of its own, so synchronous commands (`demo`,
//! `detect`, `serve`) start it, go on with their work and stop it cleanly. The socket is bound
//! before `start` returns, so a busy port is an error at startup, not later.

use std::net::SocketAddr;

use tokio::sync::oneshot;

use crate::config::ServerConfig;
use crate::error::{Error, Result};
use crate::state::AppState;

/// How many threads serve requests (scoring work goes to tokio's blocking pool on top).
const WORKER_THREADS: usize = 2;

/// A running server; [`Server::stop`] (or dropping it) ends it.
pub struct Server {
    addr: SocketAddr,
    state: AppState,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    /// Checks the configuration, binds the socket and starts serving `state` behind the
    /// `Host` check and, off loopback, the read token (see the `guard` module).
    pub fn start(config: &ServerConfig, state: AppState) -> Result<Server> {
        config.validate()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKER_THREADS)
            .thread_name("iotguard-http")
            .enable_all()
            .build()
            .map_err(Error::Start)?;
        let bind = |source| Error::Bind {
            addr: config.listen,
            source,
        };
        let std_listener = std::net::TcpListener::bind(config.listen).map_err(bind)?;
        std_listener.set_nonblocking(true).map_err(bind)?;
        let addr = std_listener.local_addr().map_err(bind)?;
        let listener = {
            let _guard = runtime.enter();
            // The ticks start with the server, so the rate chart has a history on page load.
            let _ = state.ticks();
            tokio::net::TcpListener::from_std(std_listener).map_err(bind)?
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let guard = crate::guard::Guard::new(config);
        let app = crate::app(state.clone()).layer(axum::middleware::from_fn_with_state(
            guard,
            crate::guard::check,
        ));
        let thread = std::thread::Builder::new()
            .name("iotguard-http-main".into())
            .spawn(move || {
                runtime.block_on(async move {
                    axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .await
                })
            })
            .map_err(Error::Start)?;
        Ok(Server {
            addr,
            state,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Returns the address listened on (with the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Returns the dashboard's URL.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Stops accepting, ends live streams, lets requests in flight finish and waits.
    pub fn stop(mut self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<()> {
        self.state.begin_shutdown();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            match thread.join() {
                Ok(r) => r.map_err(Error::Start)?,
                Err(_) => {
                    return Err(Error::Start(std::io::Error::other(
                        "the server thread panicked",
                    )))
                }
            }
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}
