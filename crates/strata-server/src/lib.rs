//! `strata serve`: cc-metric-store's HTTP API and InfluxDB's write API over the strata engine.
//!
//! An HPC site can point cc-metric-collector and cc-backend at it instead of cc-metric-store,
//! and any InfluxDB client can write to it. `docs/ARCHITECTURE.md` places the crate;
//! `docs/CONFIG.md` lists the `[server]` keys; the README shows curl examples.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use strata_server::{FileConfig, Server};
//!
//! let config = FileConfig::from_toml("data_dir = \"strata-data\"\n[server]\nlisten = \"127.0.0.1:8081\"")?;
//! let server = Server::bind(config).await?;
//! println!("listening on {}", server.local_addr());
//! server.run(async { let _ = strata_server::shutdown::signal().await; }).await?;
//! # Ok(())
//! # }
//! ```

mod auth;
mod backpressure;
mod body;
mod ccms;
mod config;
mod error;
mod influx;
mod ingest;
mod metrics;
mod router;
mod server;
pub mod shutdown;

pub use auth::Auth;
pub use backpressure::{IngestError, IngestQueue};
pub use config::{ConfigError, FileConfig, ServerConfig};
pub use error::{ApiError, Shape};
pub use metrics::Telemetry;
pub use router::{AppState, router};
pub use server::{ServeError, Server};
