//! The server's life: open the engine, bind, serve connections until a shutdown signal, then
//! stop accepting, let requests in flight finish, and close the engine (WAL synced, final
//! checkpoint written).

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use strata::Engine;
use tokio::net::TcpListener;

use strata_nats::NatsIngest;

use crate::auth::Auth;
use crate::config::FileConfig;
use crate::router::{AppState, router};

/// Why the server could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    #[error("cannot open the engine in {path}: {source}")]
    Open { path: PathBuf, source: strata::Error },
    #[error("invalid server.jwt_public_key: {0}")]
    Key(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error(
        "requests were still running {0:?} after the shutdown began; the engine was not closed, its WAL is replayed at the next start"
    )]
    Drain(Duration),
    #[error("cannot close the engine: {0}")]
    Close(strata::Error),
    #[error("a server task failed: {0}")]
    Task(String),
    #[error("cannot start NATS ingest: {0}")]
    Nats(strata_nats::NatsError),
}

/// A bound server over an open engine.
#[derive(Debug)]
pub struct Server {
    state: AppState,
    listener: TcpListener,
    addr: SocketAddr,
    nats: Option<NatsIngest>,
}

impl Server {
    /// Opens the engine of `config` and binds `server.listen`.
    ///
    /// # Errors
    /// [`ServeError::Open`] when the engine cannot be opened, [`ServeError::Key`] for a bad
    /// public key, [`ServeError::Bind`] when the address cannot be bound.
    pub async fn bind(config: FileConfig) -> Result<Server, ServeError> {
        let auth = match &config.server.jwt_public_key {
            Some(key) => Some(Auth::new(key).map_err(ServeError::Key)?),
            None => None,
        };
        let engine_config = config.engine.clone();
        let path = engine_config.data_dir.clone();
        // Of its partitions, what this node logged and never acknowledged is not applied: another
        // node took it over, or the stream delivers it again (`strata_nats::fences`).
        let fences = match &config.nats {
            Some(nats) => strata_nats::fences(&engine_config, nats).await.map_err(ServeError::Nats)?,
            None => std::collections::BTreeMap::new(),
        };
        let engine = tokio::task::spawn_blocking(move || {
            Engine::open_fenced(engine_config, Arc::new(strata::WallClock), &fences)
        })
        .await
        .map_err(|e| ServeError::Task(e.to_string()))?
        .map_err(|source| ServeError::Open { path, source })?;
        if engine.recovery().fenced > 0 {
            eprintln!(
                "strata serve: {} logged message(s) of partitions were not applied (never acknowledged here; another node or a redelivery stores them)",
                engine.recovery().fenced
            );
        }
        let addr = config.server.listen;
        let listener = TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr, source })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Bind { addr, source })?;
        let engine = Arc::new(engine);
        let nats = match &config.nats {
            Some(nats) => Some(NatsIngest::start(engine.clone(), nats).await.map_err(ServeError::Nats)?),
            None => None,
        };
        let state = AppState::new(engine, config, auth, nats.as_ref().map(NatsIngest::stats));
        Ok(Server { state, listener, addr, nats })
    }

    /// The address it listens on (the port chosen when `listen` gave port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The engine's data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        self.state.engine.data_dir()
    }

    /// Whether requests need a token.
    pub fn auth_enabled(&self) -> bool {
        self.state.auth.is_some()
    }

    /// Serves until `shutdown` resolves, then drains and closes the engine.
    ///
    /// # Errors
    /// [`ServeError::Drain`] when requests are still running after `server.shutdown_timeout`;
    /// [`ServeError::Close`] when the engine's final checkpoint or WAL sync fails.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
        let Server { state, listener, nats, .. } = self;
        let mut fatal = match &nats {
            Some(nats) => nats.fatal(),
            None => tokio::sync::watch::channel(None).1,
        };
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new()).header_read_timeout(state.config.server.header_timeout.0);
        let service = TowerToHyperService::new(router(state.clone()));
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let stream = match accepted {
                        Ok((stream, _)) => stream,
                        Err(e) => {
                            // Out of file descriptors and the like: wait, then go on serving.
                            eprintln!("strata serve: accept failed: {e}");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service.clone()));
                    tokio::spawn(async move {
                        // A client that goes away mid-request is not the server's error.
                        let _ = connection.await;
                    });
                }
                () = &mut shutdown => break,
                Ok(()) = fatal.changed() => {
                    // Crash-only: no drain, no checkpoint; the restart fences what this node
                    // wrote of a lost partition and never acknowledged.
                    if let Some(reason) = fatal.borrow().clone() {
                        eprintln!("strata serve: exiting at once: {reason}");
                        std::process::exit(3);
                    }
                }
            }
        }
        drop(listener);
        drop(service);
        let timeout = state.config.server.shutdown_timeout.0;
        let started = Instant::now();
        if tokio::time::timeout(timeout, graceful.shutdown()).await.is_err() {
            return Err(ServeError::Drain(timeout));
        }
        state.queue.close();
        // NATS last: each subscription and consumer finishes the message in hand (a JetStream
        // message not stored is left to the stream, which delivers it again).
        if let Some(nats) = nats {
            nats.stop().await;
        }
        let mut engine = state.engine.clone();
        drop(state);
        // Writes whose client went away may still run on a blocking thread: wait for them.
        let engine = loop {
            match Arc::try_unwrap(engine) {
                Ok(engine) => break engine,
                Err(shared) if started.elapsed() < timeout => {
                    engine = shared;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(_) => return Err(ServeError::Drain(timeout)),
            }
        };
        tokio::task::spawn_blocking(move || engine.close())
            .await
            .map_err(|e| ServeError::Task(e.to_string()))?
            .map_err(ServeError::Close)
    }
}
