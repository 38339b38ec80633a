//! `strata serve`: the HTTP server (crates/strata-server) on the config's data directory.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use strata_server::{FileConfig, Server};

use crate::say;

/// Arguments of `strata serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// TOML config file: the engine's keys and a [server] section (docs/CONFIG.md).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Data directory (overrides the config's data_dir).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Address to listen on (overrides server.listen), e.g. 0.0.0.0:8081; port 0 picks one.
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
}

pub(crate) fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = match &args.config {
        Some(path) => FileConfig::from_file(path)?,
        None => FileConfig::default(),
    };
    if let Some(dir) = args.data_dir {
        config.engine.data_dir = dir;
    }
    if let Some(listen) = args.listen {
        config.server.listen = listen;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let server = Server::bind(config).await?;
        let dir = std::fs::canonicalize(server.data_dir()).unwrap_or_else(|_| server.data_dir().to_owned());
        say!("strata serve: data directory {}", dir.display());
        say!("strata serve: listening on http://{}", server.local_addr());
        if !server.auth_enabled() {
            eprintln!(
                "warning: no server.jwt_public_key configured: authentication is off, anyone who reaches {} can write and query",
                server.local_addr()
            );
        }
        server
            .run(async {
                match strata_server::shutdown::signal().await {
                    Ok(name) => eprintln!("strata serve: {name}: stopping (draining requests, closing the engine)"),
                    Err(e) => eprintln!("strata serve: cannot wait for signals ({e}); stopping"),
                }
            })
            .await?;
        eprintln!("strata serve: stopped cleanly");
        anyhow::Ok(ExitCode::SUCCESS)
    })
}
