//! An S3 protocol server (s3s-fs over a temporary directory) on loopback, on its own thread,
//! that can be told to fail requests the way S3 does and records every request it answers.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::config::Credentials;

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, BodyStream, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};
use sdds_source::{S3Options, S3Source};
use tokio::sync::oneshot;

/// The access key the server accepts (requests are SigV4-verified).
pub const ACCESS_KEY: &str = "sdds-test-access-key";
/// The matching secret key.
pub const SECRET_KEY: &str = "sdds-test-secret-key";
/// The region clients should sign for.
pub const REGION: &str = "us-east-1";

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Body = UnsyncBoxBody<Bytes, BoxError>;

/// A way to fail one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `503 SlowDown`, S3's throttling answer.
    SlowDown,
    /// `500 InternalError`.
    InternalError,
    /// Close the connection without answering.
    DropConnection,
    /// Answer with the full `Content-Length` but send only half the body, then close.
    TruncateBody,
    /// `403 AccessDenied`: the credentials may not do this.
    AccessDenied,
    /// `400 ExpiredToken`: the session credentials ran out.
    ExpiredToken,
}

/// Which requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `ListObjectsV2`.
    List,
    /// `GetObject`.
    Get,
    /// `PutObject` (and other writes).
    Put,
    /// Any request.
    Any,
}

/// One request the server answered.
#[derive(Debug, Clone)]
pub struct Request {
    /// HTTP method.
    pub method: String,
    /// Path, `/bucket/key`.
    pub path: String,
    /// Query string.
    pub query: String,
    /// The `Range` header, if any.
    pub range: Option<String>,
    /// Status answered (0: connection dropped).
    pub status: u16,
    /// Body bytes actually sent.
    pub bytes_sent: u64,
    /// What the request was classified as.
    pub target: Target,
}

struct Shared {
    root: PathBuf,
    /// Queued faults, each with how many matching requests to let through first.
    faults: Mutex<VecDeque<(Fault, Target, usize)>>,
    log: Mutex<Vec<Request>>,
}

impl Shared {
    fn take_fault(&self, target: Target) -> Option<Fault> {
        let mut faults = self.faults.lock().unwrap();
        let at = faults
            .iter()
            .position(|(_, t, _)| *t == Target::Any || *t == target)?;
        if faults[at].2 > 0 {
            faults[at].2 -= 1;
            return None;
        }
        faults.remove(at).map(|(fault, _, _)| fault)
    }
}

/// A running server; stops when dropped.
pub struct S3Server {
    endpoint: String,
    root: PathBuf,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl S3Server {
    /// Serves the directory `root`: each subdirectory is a bucket.
    pub fn start(root: &Path) -> S3Server {
        std::fs::create_dir_all(root).expect("server root");
        let fs = s3s_fs::FileSystem::new(root).expect("server root");
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let shared = Arc::new(Shared {
            root: root.to_path_buf(),
            faults: Mutex::default(),
            log: Mutex::default(),
        });
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (shutdown, mut stop) = oneshot::channel();
        let state = shared.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("server runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind loopback");
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                loop {
                    let socket = tokio::select! {
                        accepted = listener.accept() => match accepted {
                            Ok((socket, _)) => socket,
                            Err(_) => continue,
                        },
                        _ = &mut stop => break,
                    };
                    let service = service.clone();
                    let state = state.clone();
                    let handler = hyper::service::service_fn(move |req| {
                        handle(service.clone(), state.clone(), req)
                    });
                    tokio::spawn(async move {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(socket), handler)
                            .await;
                    });
                }
            });
        });
        let addr = addr_rx.recv().expect("server started");
        S3Server {
            endpoint: format!("http://{addr}"),
            root: root.to_path_buf(),
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Creates a bucket and returns its directory (objects are its files).
    pub fn create_bucket(&self, name: &str) -> PathBuf {
        let dir = self.root.join(name);
        std::fs::create_dir_all(&dir).expect("bucket directory");
        dir
    }

    /// Fails the next `times` requests of `target` with `fault`, after any faults already queued.
    pub fn inject(&self, fault: Fault, target: Target, times: usize) {
        self.inject_after(fault, target, 0, times);
    }

    /// Lets `after` requests of `target` through, then fails the next `times` with `fault`
    /// (credentials that expire in the middle of a sync).
    pub fn inject_after(&self, fault: Fault, target: Target, after: usize, times: usize) {
        let mut faults = self.shared.faults.lock().unwrap();
        faults.extend((0..times).map(|i| (fault, target, if i == 0 { after } else { 0 })));
    }

    /// Drops the faults not yet used.
    pub fn clear_faults(&self) {
        self.shared.faults.lock().unwrap().clear();
    }

    /// Faults queued but not yet used.
    pub fn pending_faults(&self) -> usize {
        self.shared.faults.lock().unwrap().len()
    }

    /// Every request answered since the start or the last [`S3Server::clear_log`].
    pub fn requests(&self) -> Vec<Request> {
        self.shared.log.lock().unwrap().clone()
    }

    /// Forgets the requests answered so far.
    pub fn clear_log(&self) {
        self.shared.log.lock().unwrap().clear();
    }

    /// S3 options for a client of this server: its endpoint, path-style, fast retries.
    pub fn s3_options(&self, max_attempts: u32) -> S3Options {
        S3Options {
            region: Some(REGION.into()),
            endpoint_url: Some(self.endpoint.clone()),
            path_style: true,
            max_attempts,
            initial_backoff: Duration::from_millis(5),
            ..S3Options::default()
        }
    }

    /// A source reading `url` (`s3://bucket[/prefix]`) from this server with its credentials.
    pub async fn source(&self, url: &str, max_attempts: u32) -> S3Source {
        self.source_with_secret(url, max_attempts, SECRET_KEY).await
    }

    /// Like [`S3Server::source`], signing with `secret` instead of the right secret key.
    pub async fn source_with_secret(&self, url: &str, max_attempts: u32, secret: &str) -> S3Source {
        let options = self.s3_options(max_attempts);
        let config = options
            .config_loader()
            .credentials_provider(Credentials::new(ACCESS_KEY, secret, None, None, "test"))
            .load()
            .await;
        S3Source::with_sdk_config(url, &config, options).expect("valid s3:// URL")
    }

    /// Object-store options for a Delta table on this server.
    pub fn storage_options(&self) -> HashMap<String, String> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_REGION", REGION),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_ALLOW_HTTP", "true"),
            ("aws_virtual_hosted_style_request", "false"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// Environment for a child `sdds` process using this server through the default
    /// credential chain (and nothing of the machine's own AWS configuration).
    pub fn child_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("AWS_REGION", REGION.into()),
            ("AWS_CONFIG_FILE", "/nonexistent/sdds-test-config".into()),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/sdds-test-credentials".into(),
            ),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("SDDS_ENDPOINT_URL", self.endpoint.clone()),
        ]
    }

    /// Body bytes sent for `GetObject` requests since the log was cleared.
    pub fn get_bytes_sent(&self) -> u64 {
        self.requests()
            .iter()
            .filter(|r| r.target == Target::Get)
            .map(|r| r.bytes_sent)
            .sum()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(stop) = self.shutdown.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn classify(req: &http::Request<Incoming>) -> Target {
    let query = req.uri().query().unwrap_or_default();
    match *req.method() {
        http::Method::GET
            if query.contains("list-type=2") || query.is_empty() && is_bucket(req) =>
        {
            Target::List
        }
        http::Method::GET | http::Method::HEAD => Target::Get,
        _ => Target::Put,
    }
}

fn is_bucket(req: &http::Request<Incoming>) -> bool {
    req.uri().path().trim_matches('/').split('/').count() <= 1
}

async fn handle(
    service: S3Service,
    shared: Arc<Shared>,
    req: http::Request<Incoming>,
) -> Result<http::Response<Body>, BoxError> {
    let target = classify(&req);
    let path = req.uri().path().to_string();
    let index = {
        let mut log = shared.log.lock().unwrap();
        log.push(Request {
            method: req.method().to_string(),
            path: req.uri().path().to_string(),
            query: req.uri().query().unwrap_or_default().to_string(),
            range: req
                .headers()
                .get(http::header::RANGE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            status: 0,
            bytes_sent: 0,
            target,
        });
        log.len() - 1
    };
    let fault = shared.take_fault(target);
    let set_status = |status: u16| shared.log.lock().unwrap()[index].status = status;
    let response = match fault {
        Some(Fault::DropConnection) => return Err("connection dropped by fault injection".into()),
        Some(Fault::SlowDown) => {
            error_response(503, "SlowDown", "Please reduce your request rate.")
        }
        Some(Fault::InternalError) => {
            error_response(500, "InternalError", "We encountered an internal error.")
        }
        Some(Fault::AccessDenied) => error_response(403, "AccessDenied", "Access Denied"),
        Some(Fault::ExpiredToken) => {
            error_response(400, "ExpiredToken", "The provided token has expired.")
        }
        _ if target == Target::Get && !if_match_holds(&shared.root, &req) => error_response(
            412,
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold",
        ),
        Some(Fault::TruncateBody) | None => {
            let response = hyper::service::Service::call(&service, req)
                .await
                .map_err(|e| -> BoxError { format!("{e:?}").into() })?;
            let length = response
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
            let limit = match (fault, length) {
                (Some(Fault::TruncateBody), Some(length)) => length / 2,
                _ => u64::MAX,
            };
            let response = if target == Target::List && response.status().is_success() {
                with_etags(&shared.root, &path, response).await?
            } else {
                response
            };
            let state = shared.clone();
            response.map(|body| {
                metered(body, limit, move |n| {
                    state.log.lock().unwrap()[index].bytes_sent += n;
                })
            })
        }
    };
    set_status(response.status().as_u16());
    Ok(response)
}

/// Streams `body`, reporting the bytes sent, and fails the stream after `limit` bytes.
fn metered(body: s3s::Body, limit: u64, sent: impl Fn(u64) + Send + Sync + 'static) -> Body {
    struct Meter<F> {
        frames: BodyStream<s3s::Body>,
        total: u64,
        done: bool,
        sent: F,
    }
    let meter = Meter {
        frames: BodyStream::new(body),
        total: 0,
        done: false,
        sent,
    };
    let stream = futures::stream::unfold(meter, move |mut meter| async move {
        if meter.done {
            return None;
        }
        let frames = match meter.frames.next().await? {
            Ok(frame) => match frame.into_data() {
                Ok(mut data) => {
                    let room = limit - meter.total;
                    let cut = data.len() as u64 > room;
                    if cut {
                        data.truncate(room as usize);
                    }
                    meter.total += data.len() as u64;
                    (meter.sent)(data.len() as u64);
                    if cut {
                        // The data goes out, then the connection breaks.
                        meter.done = true;
                        vec![Ok(Frame::data(data)), Err(truncated())]
                    } else {
                        vec![Ok(Frame::data(data))]
                    }
                }
                Err(frame) => vec![Ok(frame)],
            },
            Err(e) => {
                meter.done = true;
                vec![Err(e)]
            }
        };
        Some((frames, meter))
    })
    .flat_map(futures::stream::iter);
    StreamBody::new(stream).boxed_unsync()
}

/// The ETag this server gives a file: its modification time and size, quoted.
fn etag_of(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(format!("\"{:x}-{:x}\"", modified.as_nanos(), meta.len()))
}

/// False when a GET's `If-Match` names another ETag than the object's (s3s-fs ignores it).
fn if_match_holds(root: &Path, req: &http::Request<Incoming>) -> bool {
    let Some(expected) = req.headers().get(http::header::IF_MATCH) else {
        return true;
    };
    let path = percent_decode(req.uri().path().trim_start_matches('/'));
    etag_of(&root.join(path)).is_some_and(|etag| expected.as_bytes() == etag.as_bytes())
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match escaped {
            Some(byte) if bytes[i] == b'%' => {
                out.push(byte);
                i += 3;
            }
            _ => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Adds the `ETag` of every listed object, as S3 does (s3s-fs leaves it out): here the
/// modification time and size, so it changes whenever the object is written.
async fn with_etags(
    root: &Path,
    path: &str,
    response: http::Response<s3s::Body>,
) -> Result<http::Response<s3s::Body>, BoxError> {
    let bucket = root.join(path.trim_matches('/').split('/').next().unwrap_or_default());
    let (mut parts, body) = response.into_parts();
    let xml = String::from_utf8(BodyExt::collect(body).await?.to_bytes().to_vec())?;
    let mut out = String::with_capacity(xml.len() * 2);
    let mut rest = xml.as_str();
    while let Some(start) = rest.find("<Key>") {
        let end = rest[start..].find("</Key>").ok_or("unterminated <Key>")? + start + 6;
        let key = &rest[start + 5..end - 6];
        out.push_str(&rest[..end]);
        if let Some(etag) = etag_of(&bucket.join(key)) {
            out.push_str(&format!("<ETag>{}</ETag>", etag.replace('"', "&quot;")));
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    parts
        .headers
        .insert(http::header::CONTENT_LENGTH, out.len().into());
    Ok(http::Response::from_parts(parts, s3s::Body::from(out)))
}

fn truncated() -> BoxError {
    "body truncated by fault injection".into()
}

fn error_response(status: u16, code: &str, message: &str) -> http::Response<Body> {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>fault</RequestId></Error>"
    );
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/xml")
        .body(
            Full::new(Bytes::from(xml))
                .map_err(|e| match e {})
                .boxed_unsync(),
        )
        .expect("valid response")
}
