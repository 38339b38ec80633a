//! Object storage for tier files and manifests, through the `object_store` crate: the local
//! file system or any S3-compatible server, one code path for both.
//!
//! `object_store` is async. The engine runs every request on a small tokio runtime of its own
//! (threads named `strata-io`) and waits for the answer on the calling thread, so it never
//! blocks or nests an embedding server's runtime. The rule for embedders: call the engine from
//! plain threads or from `tokio::task::spawn_blocking`, as for any blocking I/O.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures_util::TryStreamExt as _;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt as _, PutMode, PutOptions, PutPayload};

use crate::access::Access;
use crate::config::ObjectStoreConfig;
use crate::error::Error;

/// The engine's view of its object store: paths relative to a prefix, blocking calls.
#[derive(Debug, Clone)]
pub struct Store {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    url: String,
    runtime: Arc<IoRuntime>,
    timeout: Duration,
    /// Failed calls (errors and timeouts) since the store was opened, per operation.
    errors: Arc<Mutex<BTreeMap<&'static str, u64>>>,
}

/// A tokio runtime that shuts down without waiting, so dropping the engine inside another
/// runtime's task does not panic.
#[derive(Debug)]
struct IoRuntime(Option<tokio::runtime::Runtime>);

impl Drop for IoRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl Store {
    /// Opens the store `os` names: `os.url`, or `file://<data_dir>/tiers`.
    ///
    /// A local store fsyncs every file it writes and the directories it changes before a put
    /// returns, as a put to S3 is durable once it returns: the engine deletes WAL segments
    /// that hold a flush's points once the manifest listing its files is committed.
    ///
    /// # Errors
    /// [`Error::Config`] for a URL that is not `file://` or `s3://`, or an S3 setup the client
    /// refuses; I/O errors creating or syncing a local directory.
    pub fn open(os: &ObjectStoreConfig, data_dir: &Path) -> Result<Store, Error> {
        Store::open_as(os, data_dir, Access::ReadWrite)
    }

    /// Like [`Store::open`], for reading only: a local directory is neither created nor
    /// synced, and one that does not exist is an empty store (an engine that never wrote a
    /// tier file has none). Nothing is written through it by the engine.
    ///
    /// # Errors
    /// As [`Store::open`], but no directory is created.
    pub fn open_read_only(os: &ObjectStoreConfig, data_dir: &Path) -> Result<Store, Error> {
        Store::open_as(os, data_dir, Access::ReadOnly)
    }

    fn open_as(os: &ObjectStoreConfig, data_dir: &Path, access: Access) -> Result<Store, Error> {
        let invalid = |message: String| -> Error {
            crate::ConfigError::Invalid { path: None, message: format!("object_store.url: {message}") }.into()
        };
        // A data directory whose name is not UTF-8 must never be turned into another
        // directory's name (a lossy `display()` once made `y\xff` and `y\xfe` share
        // `y\u{FFFD}/tiers`, a sibling of both); object_store addresses local files through
        // URLs and maps such bytes to other characters, so such a path is refused.
        let (url, local_dir) = match &os.url {
            Some(url) => (url.clone(), url.strip_prefix("file://").map(PathBuf::from)),
            None => {
                let dir = std::path::absolute(data_dir.join("tiers"))
                    .map_err(crate::error::io("resolve", data_dir.join("tiers")))?;
                (format!("file://{}", dir.display()), Some(dir))
            }
        };
        let (store, prefix): (Arc<dyn ObjectStore>, String) = if let Some(path) = local_dir {
            if path.to_str().is_none() {
                return Err(invalid(format!(
                    "the local tier directory {path:?} is not valid UTF-8, which object_store \
                     cannot address; choose a data_dir (or object_store.url) whose path is UTF-8"
                )));
            }
            if access == Access::ReadOnly && !path.is_dir() {
                return Store::with_object_store(Arc::new(InMemory::new()), "", &url, os.timeout.0);
            }
            if access == Access::ReadWrite {
                // `with_fsync` syncs the directories a put creates below the root, not the
                // root's own entry in its parent: that is made durable here, once.
                strata_wal::create_dir_durably(&path).map_err(crate::error::io("create directory", &path))?;
            }
            let local = LocalFileSystem::new_with_prefix(&path)
                .map_err(|e| invalid(format!("{url:?}: {e}")))?
                .with_fsync(true)
                .with_automatic_cleanup(true);
            (Arc::new(local), String::new())
        } else if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(invalid(format!("{url:?} names no bucket")));
            }
            // reqwest is built without a bundled TLS crypto provider (see Cargo.toml): ring's
            // serves https. An embedder that installed a provider of its own keeps it.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let mut builder = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_allow_http(os.allow_http)
                .with_client_options(
                    ClientOptions::new()
                        .with_timeout(os.timeout.0)
                        .with_connect_timeout(Duration::from_secs(5))
                        .with_allow_http(os.allow_http),
                );
            if let Some(endpoint) = &os.endpoint {
                builder = builder.with_endpoint(endpoint).with_virtual_hosted_style_request(false);
            }
            if let Some(region) = &os.region {
                builder = builder.with_region(region);
            }
            if let Some(key) = &os.access_key_id {
                builder = builder.with_access_key_id(key);
            }
            if let Some(secret) = &os.secret_access_key {
                builder = builder.with_secret_access_key(secret);
            }
            let s3 = builder.build().map_err(|e| invalid(format!("{url:?}: {e}")))?;
            (Arc::new(s3), prefix.trim_matches('/').to_owned())
        } else {
            return Err(invalid(format!("{url:?} is neither file:///path nor s3://bucket/prefix")));
        };
        Store::with_object_store(store, &prefix, &url, os.timeout.0)
    }

    /// Uses `store` under `prefix`: any `ObjectStore` an embedder builds (GCS, Azure, a
    /// wrapper that injects faults in tests).
    ///
    /// strata builds reqwest with rustls but no crypto provider of its own (ring's is installed
    /// when [`Store::open`] makes an S3 client): an embedder that builds an HTTP-based store
    /// before that installs one first, e.g. `rustls::crypto::ring::default_provider()
    /// .install_default()`, or reqwest panics as the client is built.
    ///
    /// # Errors
    /// I/O errors starting the runtime's threads.
    pub fn with_object_store(
        store: Arc<dyn ObjectStore>,
        prefix: &str,
        url: &str,
        timeout: Duration,
    ) -> Result<Store, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("strata-io")
            .enable_all()
            .build()
            .map_err(crate::error::io("start the object store runtime for", url))?;
        Ok(Store {
            store,
            prefix: prefix.trim_matches('/').to_owned(),
            url: url.to_owned(),
            runtime: Arc::new(IoRuntime(Some(runtime))),
            timeout,
            errors: Arc::default(),
        })
    }

    /// The same store under `relative` (a node's folder in a fleet's store): the same client
    /// and runtime, paths below `relative`. An empty `relative` is the store itself.
    pub fn child(&self, relative: &str) -> Store {
        let relative = relative.trim_matches('/');
        if relative.is_empty() {
            return self.clone();
        }
        let prefix =
            if self.prefix.is_empty() { relative.to_owned() } else { format!("{}/{relative}", self.prefix) };
        Store { prefix, url: format!("{}/{relative}", self.url.trim_end_matches('/')), ..self.clone() }
    }

    /// The URL the store was opened with, for messages.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn path(&self, relative: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(relative)
        } else {
            ObjectPath::from(format!("{}/{relative}", self.prefix))
        }
    }

    /// Runs `op` on the I/O runtime and waits for it, with a timeout.
    fn run<T: Send + 'static>(
        &self,
        op: &'static str,
        path: &str,
        future: impl Future<Output = object_store::Result<T>> + Send + 'static,
    ) -> Result<T, Error> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let Some(runtime) = self.runtime.0.as_ref() else {
            return Err(self.error(op, path, "the I/O runtime is shut down".into()));
        };
        let timeout = self.timeout;
        runtime.spawn(async move {
            let outcome = tokio::time::timeout(timeout, future).await;
            let _ = tx.send(outcome);
        });
        match rx.recv() {
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err(e))) => Err(self.error(op, path, e.to_string())),
            Ok(Err(_)) => Err(self.error(op, path, format!("no answer within {timeout:?}"))),
            Err(_) => Err(self.error(op, path, "the I/O runtime stopped".into())),
        }
    }

    /// Calls that failed (an error or no answer in time) since the store was opened, per
    /// operation (`put`, `get`, `delete`, `list`, ...).
    pub fn errors(&self) -> Vec<(&'static str, u64)> {
        self.errors.lock().unwrap_or_else(PoisonError::into_inner).iter().map(|(&op, &n)| (op, n)).collect()
    }

    fn error(&self, op: &'static str, path: &str, message: String) -> Error {
        *self.errors.lock().unwrap_or_else(PoisonError::into_inner).entry(op).or_default() += 1;
        Error::ObjectStore { op, path: format!("{}/{path}", self.url.trim_end_matches('/')), message }
    }

    /// Writes an object, replacing any object at `path`.
    pub fn put(&self, path: &str, bytes: Bytes) -> Result<(), Error> {
        let (store, location) = (self.store.clone(), self.path(path));
        self.run("put", path, async move { store.put(&location, PutPayload::from(bytes)).await.map(|_| ()) })
    }

    /// Writes an object from `parts` (its bytes in order, never joined in memory), replacing
    /// any object at `path`.
    pub fn put_parts(&self, path: &str, parts: Vec<Bytes>) -> Result<(), Error> {
        let (store, location) = (self.store.clone(), self.path(path));
        self.run(
            "put",
            path,
            async move { store.put(&location, PutPayload::from_iter(parts)).await.map(|_| ()) },
        )
    }

    /// Writes an object only if none exists at `path`. `Ok(false)` when one does.
    pub fn put_new(&self, path: &str, bytes: Bytes) -> Result<bool, Error> {
        let (store, location) = (self.store.clone(), self.path(path));
        self.run("put", path, async move {
            let options = PutOptions { mode: PutMode::Create, ..PutOptions::default() };
            match store.put_opts(&location, PutPayload::from(bytes), options).await {
                Ok(_) => Ok(true),
                Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
                Err(e) => Err(e),
            }
        })
    }

    /// Reads a whole object.
    pub fn get(&self, path: &str) -> Result<Bytes, Error> {
        let (store, location) = (self.store.clone(), self.path(path));
        self.run("get", path, async move { store.get(&location).await?.bytes().await })
    }

    /// Reads the bytes `range` of an object.
    pub fn get_range(&self, path: &str, range: std::ops::Range<u64>) -> Result<Bytes, Error> {
        let (store, location) = (self.store.clone(), self.path(path));
        self.run("get", path, async move { store.get_range(&location, range).await })
    }

    /// Reads a whole object, or `None` when there is none at `path`.
    pub fn get_if_exists(&self, path: &str) -> Result<Option<Bytes>, Error> {
        let (store, location) = (self.store.clone(), self.path(path));
        self.run("get", path, async move {
            match store.get(&location).await {
                Ok(found) => found.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    /// Removes an object; one that is already gone is not an error.
    pub fn delete(&self, path: &str) -> Result<(), Error> {
        let (store, location) = (self.store.clone(), self.path(path));
        self.run("delete", path, async move {
            match store.delete(&location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(e),
            }
        })
    }

    /// The names of the folders directly under `dir` (one level, not their contents).
    pub fn list_folders(&self, dir: &str) -> Result<Vec<String>, Error> {
        let (store, location) = (self.store.clone(), self.path(dir));
        self.run("list", dir, async move {
            let listing = store.list_with_delimiter(Some(&location)).await?;
            Ok(listing.common_prefixes.iter().filter_map(|p| p.filename().map(str::to_owned)).collect())
        })
    }

    /// Every object under `dir`, as paths relative to the store's prefix, with sizes.
    pub fn list(&self, dir: &str) -> Result<Vec<(String, u64)>, Error> {
        let (store, location) = (self.store.clone(), self.path(dir));
        let strip = if self.prefix.is_empty() { 0 } else { self.prefix.len() + 1 };
        self.run("list", dir, async move {
            let objects: Vec<_> = store.list(Some(&location)).try_collect().await?;
            Ok(objects
                .into_iter()
                .map(|meta| {
                    let full = meta.location.to_string();
                    (full.get(strip..).unwrap_or_default().to_owned(), meta.size)
                })
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::net::TcpListener;

    use super::*;
    use crate::units::Span;

    /// reqwest carries no TLS crypto provider of its own here (Cargo.toml): an `https://`
    /// endpoint must still build a client and fail a request with an error, never a panic.
    #[test]
    fn an_https_endpoint_that_speaks_no_tls_is_an_error() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("https://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut stream = stream;
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n\r\nnot a TLS server\r\n");
            }
        });
        let os = ObjectStoreConfig {
            url: Some("s3://metrics/strata".into()),
            endpoint: Some(endpoint),
            region: Some("us-east-1".into()),
            access_key_id: Some("key".into()),
            secret_access_key: Some("secret".into()),
            timeout: Span(Duration::from_secs(2)),
            ..ObjectStoreConfig::default()
        };
        let store = Store::open(&os, Path::new("/nonexistent")).unwrap();
        let err = store.get("manifest/current").unwrap_err();
        assert!(err.to_string().contains("manifest/current"), "{err}");
        assert_eq!(store.errors(), [("get", 1)]);
    }
}
