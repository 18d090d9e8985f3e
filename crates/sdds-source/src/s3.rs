//! The seller's S3 bucket, read with the AWS SDK and the standard credential chain.
//!
//! Requests are retried by the SDK (throttling, 5xx, connection errors) with exponential
//! backoff and jitter. A body that breaks off or ends short is resumed from the last byte
//! received, pinned to the listed ETag, within the same attempt budget; a body shorter than
//! asked for is never passed on as if complete.

use std::ops::Range;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream as SdkStream;
use aws_sdk_s3::Client;
use bytes::Bytes;
use futures::StreamExt;
use rand::Rng;

use crate::{ByteStream, ObjectInfo, Problem, S3Refusal, Source, SourceError};

/// How to reach S3: the flags `--profile`, `--region`, `--endpoint-url`, `--path-style`.
#[derive(Debug, Clone)]
pub struct S3Options {
    /// Named profile of the shared config files (else `AWS_PROFILE` / `default`).
    pub profile: Option<String>,
    /// Region (else the chain's: `AWS_REGION`, profile, instance metadata; finally us-east-1).
    pub region: Option<String>,
    /// An S3-compatible endpoint instead of AWS's.
    pub endpoint_url: Option<String>,
    /// Address buckets as `endpoint/bucket` rather than `bucket.endpoint`.
    pub path_style: bool,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// First retry delay; it doubles per attempt, with jitter, up to 20 s.
    pub initial_backoff: Duration,
    /// Print one line on stderr when requests start being retried (off for `--quiet`).
    pub announce_retries: bool,
}

impl Default for S3Options {
    fn default() -> Self {
        S3Options {
            profile: None,
            region: None,
            endpoint_url: None,
            path_style: false,
            max_attempts: 8,
            announce_retries: true,
            initial_backoff: Duration::from_millis(200),
        }
    }
}

const MAX_BACKOFF: Duration = Duration::from_secs(20);

impl S3Options {
    /// The profile, region and endpoint a connection uses, for messages: a failure that does
    /// not name them leaves the user guessing which configuration was read.
    pub fn tried(&self, config: &SdkConfig) -> String {
        let profile = self
            .profile
            .clone()
            .or_else(|| std::env::var("AWS_PROFILE").ok())
            .unwrap_or_else(|| "default".to_string());
        let region = config
            .region()
            .map_or_else(|| "none".to_string(), |r| r.to_string());
        let endpoint = self
            .endpoint_url
            .clone()
            .unwrap_or_else(|| format!("AWS S3 ({region})"));
        format!("profile {profile}, region {region}, endpoint {endpoint}")
    }

    /// Loads the SDK configuration: the default credential chain (environment, shared
    /// profile, SSO, web identity, container and instance roles) with these options applied.
    pub async fn load_sdk_config(&self) -> SdkConfig {
        let config = self.config_loader().load().await;
        if config.region().is_none() {
            return config
                .into_builder()
                .region(Region::from_static("us-east-1"))
                .build();
        }
        config
    }

    /// The SDK configuration loader with these options applied (credentials still to come
    /// from the default chain unless the caller sets a provider).
    pub fn config_loader(&self) -> ConfigLoader {
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .read_timeout(Duration::from_secs(60))
                .build(),
        );
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(endpoint) = &self.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        loader
    }

    /// An S3 client for these options: path style, retries with backoff, and the one-line
    /// notice when retrying starts. Writers (exports) use it as the source does.
    pub fn client(&self, config: &SdkConfig) -> Client {
        let mut builder = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(self.path_style)
            .retry_config(self.retry_config());
        if self.announce_retries && self.max_attempts > 1 {
            builder = builder.interceptor(RetryNotice {
                tried: self.tried(config),
                max_attempts: self.max_attempts,
            });
        }
        Client::from_conf(builder.build())
    }

    fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.max_attempts.max(1))
            .with_initial_backoff(self.initial_backoff)
            .with_max_backoff(MAX_BACKOFF)
    }

    /// The delay before retry number `attempt` (1-based): exponential, full jitter.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .initial_backoff
            .saturating_mul(1 << attempt.min(16))
            .min(MAX_BACKOFF);
        ceiling.mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
    }
}

/// Objects under `s3://bucket/prefix`.
#[derive(Debug, Clone)]
pub struct S3Source {
    client: Client,
    bucket: String,
    /// Empty, or ending in `/`.
    prefix: String,
    options: S3Options,
    /// Profile, region and endpoint, for messages.
    tried: String,
}

impl S3Source {
    /// Connects to `s3://bucket[/prefix]` with an SDK configuration, e.g. the default chain's
    /// from [`S3Options::load_sdk_config`].
    pub fn with_sdk_config(
        url: &str,
        config: &SdkConfig,
        options: S3Options,
    ) -> Result<S3Source, SourceError> {
        let (bucket, prefix) = parse_url(url)?;
        let tried = options.tried(config);
        Ok(S3Source {
            client: options.client(config),
            bucket,
            prefix,
            options,
            tried,
        })
    }
}

/// Says once per process, on stderr, that S3 requests are being retried, so that a run against
/// a wrong endpoint or with bad keys does not sit silent through its backoff.
#[derive(Debug)]
struct RetryNotice {
    tried: String,
    max_attempts: u32,
}

/// Marks a request whose first attempt has been made.
#[derive(Debug, Clone)]
struct Attempted;

impl aws_smithy_types::config_bag::Storable for Attempted {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

static RETRY_ANNOUNCED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl aws_sdk_s3::config::Intercept for RetryNotice {
    fn name(&self) -> &'static str {
        "RetryNotice"
    }

    fn read_before_attempt(
        &self,
        _context: &aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_sdk_s3::config::RuntimeComponents,
        cfg: &mut aws_sdk_s3::config::ConfigBag,
    ) -> Result<(), aws_sdk_s3::error::BoxError> {
        use std::sync::atomic::Ordering;
        if cfg.load::<Attempted>().is_none() {
            cfg.interceptor_state().store_put(Attempted);
        } else if !RETRY_ANNOUNCED.swap(true, Ordering::Relaxed) {
            eprintln!(
                "sdds: S3 request failed, retrying (up to {} attempts; {})",
                self.max_attempts, self.tried
            );
        }
        Ok(())
    }
}

/// Splits `s3://bucket/some/prefix` into the bucket and `some/prefix/`.
fn parse_url(url: &str) -> Result<(String, String), SourceError> {
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| SourceError::Location {
            location: url.to_string(),
            problem: Problem::NotS3Url,
        })?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(SourceError::Location {
            location: url.to_string(),
            problem: Problem::NoBucket,
        });
    }
    let prefix = prefix.trim_matches('/');
    let prefix = if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}/")
    };
    Ok((bucket.to_string(), prefix))
}

/// What an SDK error means: S3's answer, or the transport failure and how many attempts
/// were made. `tried` names the configuration used, for credential problems.
fn problem<E>(err: &SdkError<E>, max_attempts: u32, tried: &str) -> Problem
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if let SdkError::ServiceError(service) = err {
        let e = service.err();
        return Problem::Refused(S3Refusal {
            code: e.code().unwrap_or("error").to_string(),
            status: service.raw().status().as_u16(),
            message: e.message().unwrap_or_default().to_string(),
            tried: tried.to_string(),
        });
    }
    let chain = causes(err);
    if chain.contains("no credentials found") {
        return Problem::NoCredentials {
            tried: tried.to_string(),
        };
    }
    match err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            Problem::GaveUp {
                cause: format!("{chain} [{tried}]"),
                attempts: max_attempts,
            }
        }
        _ => Problem::Other(format!("{chain} [{tried}]")),
    }
}

/// An error's chain of causes on one line, without repeats.
fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts
        .join(": ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[async_trait::async_trait]
impl Source for S3Source {
    fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
            .trim_end_matches('/')
            .to_string()
    }

    async fn list(&self) -> Result<Vec<ObjectInfo>, SourceError> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&self.prefix)
            .into_paginator()
            .send();
        let mut objects = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| SourceError::Location {
                location: self.location(),
                problem: problem(&e, self.options.max_attempts, &self.tried),
            })?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                let Some(key) = key.strip_prefix(&self.prefix) else {
                    continue;
                };
                if key.is_empty() || key.ends_with('/') {
                    continue; // folder markers
                }
                objects.push(ObjectInfo {
                    key: key.to_string(),
                    size: object.size().unwrap_or_default().max(0) as u64,
                    etag: object.e_tag().map(str::to_string),
                });
            }
        }
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(objects)
    }

    async fn read(
        &self,
        object: &ObjectInfo,
        range: Range<u64>,
    ) -> Result<ByteStream, SourceError> {
        let reader = RangeReader {
            source: self.clone(),
            key: format!("{}{}", self.prefix, object.key),
            etag: object.etag.clone(),
            offset: range.start,
            end: range.end,
            body: None,
            failures: 0,
        };
        let stream = futures::stream::unfold(reader, |mut reader| async move {
            let item = reader.next_chunk().await?;
            if item.is_err() {
                reader.end = reader.offset; // stop after an error
            }
            Some((item, reader))
        });
        Ok(stream.boxed())
    }
}

/// Reads one byte range, resuming after broken or short bodies.
struct RangeReader {
    source: S3Source,
    /// The object's key in the bucket (prefix included).
    key: String,
    /// The ETag it was listed with.
    etag: Option<String>,
    offset: u64,
    end: u64,
    body: Option<SdkStream>,
    failures: u32,
}

impl RangeReader {
    fn error(&self, problem: Problem) -> SourceError {
        SourceError::Read {
            key: self.key.clone(),
            problem,
        }
    }

    /// Starts a GET of the remaining bytes, pinned to the listed ETag.
    async fn get(&self) -> Result<SdkStream, SourceError> {
        let mut request = self
            .source
            .client
            .get_object()
            .bucket(&self.source.bucket)
            .key(&self.key)
            .range(format!("bytes={}-{}", self.offset, self.end - 1));
        if let Some(etag) = &self.etag {
            request = request.if_match(etag);
        }
        match request.send().await {
            Ok(output) => Ok(output.body),
            Err(e) if e.code() == Some("PreconditionFailed") => Err(self.error(Problem::Changed)),
            Err(e) => Err(self.error(problem(
                &e,
                self.source.options.max_attempts,
                &self.source.tried,
            ))),
        }
    }

    async fn next_chunk(&mut self) -> Option<Result<Bytes, SourceError>> {
        loop {
            if self.offset >= self.end {
                return None;
            }
            let body = match self.body.as_mut() {
                Some(body) => body,
                None => match self.get().await {
                    Ok(body) => self.body.insert(body),
                    Err(e) => return Some(Err(e)),
                },
            };
            let failure = match body.next().await {
                Some(Ok(mut chunk)) => {
                    let wanted = (self.end - self.offset) as usize;
                    chunk.truncate(wanted);
                    self.offset += chunk.len() as u64;
                    return Some(Ok(chunk));
                }
                Some(Err(e)) => causes(&e),
                None => format!("the body ended at byte {} of {}", self.offset, self.end),
            };
            self.body = None;
            self.failures += 1;
            if self.failures >= self.source.options.max_attempts {
                return Some(Err(self.error(Problem::GaveUp {
                    cause: failure,
                    attempts: self.failures,
                })));
            }
            tokio::time::sleep(self.source.options.backoff(self.failures)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_bucket_and_prefix() {
        assert_eq!(parse_url("s3://b").unwrap(), ("b".into(), "".into()));
        assert_eq!(parse_url("s3://b/").unwrap(), ("b".into(), "".into()));
        assert_eq!(
            parse_url("s3://b/feeds/sdds/").unwrap(),
            ("b".into(), "feeds/sdds/".into())
        );
        assert!(parse_url("s3:///x").is_err());
        assert!(parse_url("https://b").is_err());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let options = S3Options::default();
        assert!(options.backoff(1) <= Duration::from_millis(400));
        assert!(options.backoff(1) >= Duration::from_millis(200));
        assert!(options.backoff(30) <= MAX_BACKOFF);
    }
}
