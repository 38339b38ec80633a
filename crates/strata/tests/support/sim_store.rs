//! An in-memory `ObjectStore` that can produce the image a crash leaves: exactly the objects
//! whose put (or copy) completed and whose delete did not. A request still in flight when the
//! image is taken is as if it never happened, as for an S3 request whose answer never came.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt as _, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result, UploadPart,
};

/// Objects by path, as of their last completed request.
type Completed = Arc<Mutex<BTreeMap<Path, Bytes>>>;

#[derive(Debug, Default)]
pub struct SimStore {
    inner: Arc<InMemory>,
    completed: Completed,
    /// An outage: every put fails.
    down: AtomicBool,
}

impl SimStore {
    pub fn new() -> SimStore {
        SimStore::default()
    }

    /// A new, independent store holding exactly the objects whose put had completed (and
    /// whose delete had not) when it is called.
    pub fn crash(&self) -> SimStore {
        let objects = self.completed.lock().unwrap().clone();
        let inner = Arc::new(InMemory::new());
        // A runtime of its own on a thread of its own: callable from plain threads and from
        // inside a test's runtime alike.
        std::thread::scope(|s| {
            s.spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
                runtime.block_on(async {
                    for (path, bytes) in &objects {
                        inner.put(path, PutPayload::from(bytes.clone())).await.unwrap();
                    }
                });
            });
        });
        SimStore { inner, completed: Arc::new(Mutex::new(objects)), down: AtomicBool::new(false) }
    }

    /// Starts or ends an outage: while down, every put fails.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// The paths of the objects a crash now would keep, sorted.
    pub fn completed(&self) -> Vec<String> {
        self.completed.lock().unwrap().keys().map(|p| p.to_string()).collect()
    }

    /// Records `location` as its inner object is now.
    async fn record(inner: &InMemory, completed: &Completed, location: &Path) -> Result<()> {
        let bytes = inner.get(location).await?.bytes().await?;
        completed.lock().unwrap().insert(location.clone(), bytes);
        Ok(())
    }
}

impl fmt::Display for SimStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sim")
    }
}

/// A multipart upload whose object counts as completed once `complete` returns.
#[derive(Debug)]
struct SimUpload {
    upload: Box<dyn MultipartUpload>,
    inner: Arc<InMemory>,
    completed: Completed,
    location: Path,
}

#[async_trait::async_trait]
impl MultipartUpload for SimUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.upload.put_part(data)
    }

    async fn complete(&mut self) -> Result<PutResult> {
        let result = self.upload.complete().await?;
        SimStore::record(&self.inner, &self.completed, &self.location).await?;
        Ok(result)
    }

    async fn abort(&mut self) -> Result<()> {
        self.upload.abort().await
    }
}

#[async_trait::async_trait]
impl ObjectStore for SimStore {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        if self.down.load(Ordering::SeqCst) {
            return Err(object_store::Error::Generic {
                store: "sim",
                source: format!("outage: put {location} refused").into(),
            });
        }
        let bytes: Bytes = payload.clone().into();
        let result = self.inner.put_opts(location, payload, opts).await?;
        // Only now has the put completed; a crash image taken before this line lacks it.
        self.completed.lock().unwrap().insert(location.clone(), bytes);
        Ok(result)
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        let upload = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(SimUpload {
            upload,
            inner: self.inner.clone(),
            completed: self.completed.clone(),
            location: location.clone(),
        }))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        let completed = self.completed.clone();
        self.inner
            .delete_stream(locations)
            .map(move |deleted| {
                if let Ok(path) = &deleted {
                    completed.lock().unwrap().remove(path);
                }
                deleted
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await?;
        SimStore::record(&self.inner, &self.completed, to).await
    }
}
