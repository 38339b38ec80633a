//! An `ObjectStore` wrapper that fails on command: the Nth put, puts to paths containing a
//! text (a manifest commit), or requests that hang past the engine's timeout.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

/// What the next puts do.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Fail the put this many puts from now (0: the next one), once.
    pub fail_put_in: Option<u64>,
    /// Fail every put whose path contains this text.
    pub fail_puts_to: Option<String>,
    /// Delay every put by this much.
    pub hang_puts: Option<Duration>,
    /// Puts seen.
    pub puts: u64,
    /// Puts failed.
    pub failed: u64,
}

#[derive(Debug)]
pub struct FaultyStore {
    inner: Arc<dyn ObjectStore>,
    pub faults: Mutex<Faults>,
}

impl FaultyStore {
    pub fn new(inner: Arc<dyn ObjectStore>) -> Arc<FaultyStore> {
        Arc::new(FaultyStore { inner, faults: Mutex::default() })
    }

    pub fn set(&self, change: impl FnOnce(&mut Faults)) {
        change(&mut self.faults.lock().unwrap());
    }

    pub fn failed(&self) -> u64 {
        self.faults.lock().unwrap().failed
    }
}

impl fmt::Display for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "faulty({})", self.inner)
    }
}

fn injected(path: &Path) -> object_store::Error {
    object_store::Error::Generic {
        store: "faulty",
        source: format!("injected failure putting {path}").into(),
    }
}

#[async_trait::async_trait]
impl ObjectStore for FaultyStore {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        let (fail, hang) = {
            let mut faults = self.faults.lock().unwrap();
            faults.puts += 1;
            let mut fail =
                faults.fail_puts_to.as_ref().is_some_and(|text| location.as_ref().contains(text.as_str()));
            match faults.fail_put_in {
                Some(0) => {
                    fail = true;
                    faults.fail_put_in = None;
                }
                Some(n) => faults.fail_put_in = Some(n - 1),
                None => {}
            }
            if fail {
                faults.failed += 1;
            }
            (fail, faults.hang_puts)
        };
        if let Some(delay) = hang {
            tokio::time::sleep(delay).await;
        }
        if fail {
            return Err(injected(location));
        }
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}
