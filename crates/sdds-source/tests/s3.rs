//! The S3 source against a real S3 protocol server on loopback, with injected failures.

use std::time::Duration;

use sdds_source::{ObjectInfo, S3Source, Source};
use sdds_testkit::{write_file, Fault, S3Server, Target};

/// A server with bucket `feeds` holding two objects under `sdds/` and one outside it.
fn server_with_objects(dir: &tempfile::TempDir) -> (S3Server, Vec<u8>) {
    let server = S3Server::start(dir.path());
    let bucket = server.create_bucket("feeds");
    let big: String = (0..200_000u32).map(|i| format!("{i},")).collect();
    write_file(&bucket, &format!("sdds/{BIG}"), &big);
    write_file(&bucket, "sdds/readme.txt", "hello");
    write_file(&bucket, "other.txt", "not listed");
    (server, big.into_bytes())
}

/// The object `key` as listed now.
async fn listed(source: &S3Source, key: &str) -> ObjectInfo {
    let objects = source.list().await.unwrap();
    object(&objects, key).clone()
}

fn object<'a>(objects: &'a [ObjectInfo], key: &str) -> &'a ObjectInfo {
    objects.iter().find(|o| o.key == key).unwrap()
}

const BIG: &str = "productfeed_v1/year=2026/month=10/a.csv";

#[tokio::test]
async fn lists_below_the_prefix_and_reads_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let (server, big) = server_with_objects(&dir);
    let source = server.source("s3://feeds/sdds", 3).await;
    assert_eq!(source.location(), "s3://feeds/sdds");
    let objects = source.list().await.unwrap();
    let keys: Vec<_> = objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, vec![BIG, "readme.txt"]);
    let info = object(&objects, BIG);
    assert_eq!(info.size, big.len() as u64);
    let etag = info.etag.clone().expect("S3 lists ETags");
    std::thread::sleep(Duration::from_millis(5));
    std::fs::write(dir.path().join("feeds/sdds/readme.txt"), b"world").unwrap();
    let relisted = source.list().await.unwrap();
    assert_eq!(object(&relisted, BIG).etag.as_ref(), Some(&etag));
    assert_ne!(
        object(&relisted, "readme.txt").etag,
        object(&objects, "readme.txt").etag
    );
    let whole = source.read_all(info, 0..info.size).await.unwrap();
    assert_eq!(whole, big);
    let part = source.read_all(info, 1000..1010).await.unwrap();
    assert_eq!(part, big[1000..1010]);
    let gets: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.target == Target::Get)
        .map(|r| r.range.unwrap_or_default())
        .collect();
    assert_eq!(
        gets,
        vec![
            format!("bytes=0-{}", big.len() - 1),
            "bytes=1000-1009".to_string()
        ]
    );
    assert_eq!(server.get_bytes_sent(), big.len() as u64 + 10);
}

#[tokio::test]
async fn throttling_dropped_connections_and_truncated_bodies_are_survived() {
    let dir = tempfile::tempdir().unwrap();
    let (server, big) = server_with_objects(&dir);
    let source = server.source("s3://feeds/sdds/", 4).await;
    server.inject(Fault::SlowDown, Target::List, 2);
    server.inject(Fault::InternalError, Target::List, 1);
    let objects = source.list().await.unwrap();
    assert_eq!(objects.len(), 2);
    let info = object(&objects, BIG).clone();

    server.clear_log();
    server.inject(Fault::DropConnection, Target::Get, 1);
    server.inject(Fault::TruncateBody, Target::Get, 2);
    server.inject(Fault::SlowDown, Target::Get, 1);
    let data = source.read_all(&info, 0..info.size).await.unwrap();
    assert_eq!(
        data, big,
        "resumed reads must give exactly the object's bytes"
    );
    assert_eq!(server.pending_faults(), 0);
    // Each truncated body was resumed from where it broke off, not re-read from the start.
    let len = big.len() as u64;
    let starts: Vec<u64> = server
        .requests()
        .into_iter()
        .filter(|r| r.status == 206)
        .map(|r| {
            let range = r.range.unwrap();
            let (start, end) = range
                .strip_prefix("bytes=")
                .unwrap()
                .split_once('-')
                .unwrap();
            assert_eq!(end.parse::<u64>().unwrap(), len - 1);
            start.parse().unwrap()
        })
        .collect();
    assert_eq!(starts.len(), 3, "{starts:?}");
    assert_eq!(starts[0], 0);
    // A resume starts after most of what was sent before the break (what was in flight is lost).
    assert!(
        starts[1] > len / 2 - 65_536 && starts[1] <= len / 2,
        "{starts:?}"
    );
    assert!(
        starts[2] > starts[1] && starts[2] <= starts[1] + (len - starts[1]) / 2,
        "{starts:?}"
    );
    let resent = server.get_bytes_sent() - len;
    assert!(resent < 2 * 65_536, "{resent} bytes sent twice");
}

#[tokio::test]
async fn beyond_the_retry_budget_the_error_is_clear() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = server_with_objects(&dir);
    let source = server.source("s3://feeds/sdds", 3).await;
    let info = listed(&source, BIG).await;

    server.inject(Fault::TruncateBody, Target::Get, 3);
    let err = source
        .read_all(&info, 0..info.size)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("sdds/productfeed_v1/year=2026/month=10/a.csv: "),
        "{err}"
    );
    assert!(err.contains("gave up after 3 attempts"), "{err}");

    server.inject(Fault::SlowDown, Target::List, 3);
    let err = source.list().await.unwrap_err().to_string();
    assert!(err.contains("SlowDown (HTTP 503)"), "{err}");
    assert!(!err.contains('\n'), "{err}");

    let missing = server.source("s3://no-such-bucket", 3).await;
    let err = missing.list().await.unwrap_err().to_string();
    assert!(err.contains("NoSuchBucket"), "{err}");
}

#[tokio::test]
async fn an_object_rewritten_after_listing_is_not_mixed_in() {
    let dir = tempfile::tempdir().unwrap();
    let (server, big) = server_with_objects(&dir);
    let source = server.source("s3://feeds/sdds", 3).await;
    let info = listed(&source, BIG).await;
    std::thread::sleep(Duration::from_millis(5));
    std::fs::write(dir.path().join("feeds/sdds").join(BIG), &big[..1000]).unwrap();
    let err = source
        .read_all(&info, 0..info.size)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the object changed while it was being read"),
        "{err}"
    );
}

#[tokio::test]
async fn wrong_credentials_are_refused_with_the_s3_error() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = server_with_objects(&dir);
    let source = server.source_with_secret("s3://feeds", 2, "wrong").await;
    let err = source.list().await.unwrap_err().to_string();
    assert!(err.contains("SignatureDoesNotMatch"), "{err}");
}
