//! The bounded queue between the network and the engine.
//!
//! An engine write is a blocking call (it returns once its points are durable), so writes run
//! on `spawn_blocking`, at most `server.write_workers` at once, and at most
//! `server.queue_depth` more wait for a worker. A write that finds the queue full is refused
//! at once ([`IngestQueue::try_write`], HTTP's 503 with `Retry-After`) and counted, never
//! dropped silently. A pulling source such as a NATS subscriber uses
//! [`IngestQueue::write`] instead, which waits for room: it stops pulling while the engine
//! is behind.

use std::sync::Arc;

use bytes::Bytes;
use strata::{Engine, WriteOptions, WriteReport};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why a write was not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    #[error("the write queue is full")]
    Full,
    #[error("the write queue is closed: the server is shutting down")]
    Closed,
    #[error(transparent)]
    Engine(#[from] strata::Error),
    #[error("the write task failed: {0}")]
    Task(String),
}

/// Admission to the engine's writers; cloned by every handler.
#[derive(Debug, Clone)]
pub struct IngestQueue {
    engine: Arc<Engine>,
    /// Writes admitted: running plus waiting (`write_workers + queue_depth`).
    admitted: Arc<Semaphore>,
    /// Writes running.
    workers: Arc<Semaphore>,
    capacity: usize,
}

impl IngestQueue {
    /// A queue of `queue_depth` waiting writes in front of `workers` writers.
    pub fn new(engine: Arc<Engine>, workers: usize, queue_depth: usize) -> IngestQueue {
        let capacity = workers.max(1).saturating_add(queue_depth);
        IngestQueue {
            engine,
            admitted: Arc::new(Semaphore::new(capacity)),
            workers: Arc::new(Semaphore::new(workers.max(1))),
            capacity,
        }
    }

    /// Writes `body` if there is room in the queue now.
    ///
    /// # Errors
    /// [`IngestError::Full`] when the queue is full (nothing was written); the engine's error
    /// when the write failed.
    pub async fn try_write(&self, body: Bytes, options: WriteOptions) -> Result<WriteReport, IngestError> {
        let permit = self.admitted.clone().try_acquire_owned().map_err(|e| match e {
            tokio::sync::TryAcquireError::Closed => IngestError::Closed,
            tokio::sync::TryAcquireError::NoPermits => IngestError::Full,
        })?;
        self.run(permit, body, options).await
    }

    /// Writes `body`, waiting for room in the queue first (for sources that can stop pulling).
    ///
    /// # Errors
    /// [`IngestError::Closed`] once the queue is closed; the engine's error when the write failed.
    pub async fn write(&self, body: Bytes, options: WriteOptions) -> Result<WriteReport, IngestError> {
        let permit = self.admitted.clone().acquire_owned().await.map_err(|_| IngestError::Closed)?;
        self.run(permit, body, options).await
    }

    /// Writes waiting or running now.
    pub fn in_flight(&self) -> usize {
        self.capacity.saturating_sub(self.admitted.available_permits())
    }

    /// Refuses every later write; writes admitted before still run.
    pub fn close(&self) {
        self.admitted.close();
    }

    async fn run(
        &self,
        admitted: OwnedSemaphorePermit,
        body: Bytes,
        options: WriteOptions,
    ) -> Result<WriteReport, IngestError> {
        let worker = self.workers.clone().acquire_owned().await.map_err(|_| IngestError::Closed)?;
        let engine = self.engine.clone();
        // The permits move into the task: if the client goes away, the write still finishes
        // before its worker is free again.
        let task = tokio::task::spawn_blocking(move || {
            let report = engine.write_lp(&body, &options);
            drop((worker, admitted));
            report
        });
        task.await.map_err(|e| IngestError::Task(e.to_string()))?.map_err(IngestError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_refuses_at_once_and_frees_when_writes_end() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Arc::new(Engine::open(strata::Config::with_data_dir(dir.path())).unwrap());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let queue = IngestQueue::new(engine.clone(), 1, 1);
            // Two writes admitted (one running, one waiting) hold every place.
            let held = queue.admitted.clone().try_acquire_many_owned(2).unwrap();
            assert_eq!(queue.in_flight(), 2);
            let body = Bytes::from_static(b"m,hostname=h value=1\n");
            let refused = queue.try_write(body.clone(), WriteOptions::default()).await;
            assert!(matches!(refused, Err(IngestError::Full)), "{refused:?}");
            drop(held);
            let report = queue.try_write(body.clone(), WriteOptions::default()).await.unwrap();
            assert_eq!(report.accepted, 1);
            assert_eq!(queue.in_flight(), 0);
            queue.close();
            assert!(matches!(queue.try_write(body, WriteOptions::default()).await, Err(IngestError::Closed)));
        });
    }
}
