//! An S3-compatible server inside the test process: `s3s` serving the S3 HTTP API over a
//! directory with `s3s-fs`, on an ephemeral loopback port, with SigV4 auth.
//!
//! s3s-fs checks `If-None-Match` / `If-Match` and then writes, in two steps; this server runs
//! conditional puts one at a time so a conditional create is atomic, as on a real S3. It reads
//! each request body whole before answering, so an early "412 Precondition Failed" never
//! breaks a client that is still sending.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

/// A running server; stops when dropped.
pub struct S3Server {
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
    pub bucket: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves the S3 API over `root` (a directory of its own: s3s-fs keeps metadata files there)
/// with the bucket `bucket` created.
pub fn spawn(root: &Path, bucket: &str) -> S3Server {
    let (access_key, secret_key) = ("strata-test-access".to_owned(), "strata-test-secret".to_owned());
    // A bucket is a directory of the root.
    std::fs::create_dir_all(root.join(bucket)).expect("create the bucket directory");
    let fs = s3s_fs::FileSystem::new(root).expect("s3s-fs over the root");
    let service = {
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(access_key.clone(), secret_key.clone()));
        builder.build()
    };
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.set_nonblocking(true).expect("a non-blocking listener");
    let port = listener.local_addr().expect("the bound address").port();
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name(format!("s3-{port}"))
        .spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                let conditional = Arc::new(tokio::sync::Mutex::new(()));
                loop {
                    let socket = tokio::select! {
                        _ = &mut stopped => break,
                        accepted = listener.accept() => match accepted {
                            Ok((socket, _)) => socket,
                            Err(_) => continue,
                        },
                    };
                    let (service, conditional) = (service.clone(), conditional.clone());
                    let handler =
                        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                            let (service, conditional) = (service.clone(), conditional.clone());
                            async move {
                                let is_conditional = request.method() == hyper::Method::PUT
                                    && (request.headers().contains_key(hyper::header::IF_NONE_MATCH)
                                        || request.headers().contains_key(hyper::header::IF_MATCH));
                                let mut request = request.map(s3s::Body::from);
                                if let Err(e) = request.body_mut().store_all_limited(usize::MAX).await {
                                    return Err(s3s::HttpError::new(e));
                                }
                                let _one_at_a_time =
                                    if is_conditional { Some(conditional.lock().await) } else { None };
                                service.call(request).await
                            }
                        });
                    tokio::spawn(async move {
                        let _ = http1::Builder::new().serve_connection(TokioIo::new(socket), handler).await;
                    });
                }
            });
        })
        .expect("start the S3 server thread");
    S3Server {
        endpoint: format!("http://127.0.0.1:{port}"),
        access_key,
        secret_key,
        bucket: bucket.to_owned(),
        stop: Some(stop),
        thread: Some(thread),
    }
}
