//! Exports to S3, and the manifest QuickSight's S3 data source reads.

use std::path::Path;

use aws_config::SdkConfig;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use sdds_source::S3Options;

use crate::{ExportError, Format};

/// An export's destination object, `s3://bucket/key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Destination {
    /// The bucket.
    pub bucket: String,
    /// The object key.
    pub key: String,
}

impl S3Destination {
    /// Parses `s3://bucket/key`.
    pub fn parse(url: &str) -> Result<S3Destination, ExportError> {
        let bad = || ExportError::BadS3Url(url.to_string());
        let rest = url.strip_prefix("s3://").ok_or_else(bad)?;
        let (bucket, key) = rest.split_once('/').ok_or_else(bad)?;
        if bucket.is_empty() || key.is_empty() || key.ends_with('/') {
            return Err(bad());
        }
        Ok(S3Destination {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }

    /// `s3://bucket/key`.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// The destination next to this one where the QuickSight manifest goes:
    /// `reports/x.csv` → `reports/x.manifest.json`.
    pub fn manifest(&self) -> S3Destination {
        let (dir, file) = match self.key.rsplit_once('/') {
            Some((dir, file)) => (format!("{dir}/"), file),
            None => (String::new(), self.key.as_str()),
        };
        let stem = file.rsplit_once('.').map_or(file, |(stem, _)| stem);
        S3Destination {
            bucket: self.bucket.clone(),
            key: format!("{dir}{stem}.manifest.json"),
        }
    }

    /// Uploads a local file to this object, through the same credential chain, endpoint and
    /// retries as the source.
    pub async fn upload(
        &self,
        path: &Path,
        config: &SdkConfig,
        options: &S3Options,
        content_type: &str,
    ) -> Result<(), ExportError> {
        let upload_error = |message: String| ExportError::Upload {
            url: self.url(),
            tried: options.tried(config),
            message,
        };
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| upload_error(e.to_string()))?;
        options
            .client(config)
            .put_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .content_type(content_type)
            .body(body)
            .send()
            .await
            .map_err(|e| upload_error(DisplayErrorContext(&e).to_string()))?;
        Ok(())
    }
}

/// The manifest JSON of QuickSight's S3 data source for one exported file.
pub fn quicksight_manifest(export_url: &str, format: Format) -> Result<String, ExportError> {
    let settings = match format {
        Format::Csv => serde_json::json!({
            "format": "CSV",
            "delimiter": ",",
            "textqualifier": "\"",
            "containsHeader": "true"
        }),
        Format::Json => serde_json::json!({ "format": "JSON" }),
        Format::Parquet => return Err(ExportError::ManifestFormat("Parquet")),
        Format::Table => return Err(ExportError::ManifestFormat("a text table")),
    };
    let manifest = serde_json::json!({
        "fileLocations": [{ "URIs": [export_url] }],
        "globalUploadSettings": settings,
    });
    Ok(serde_json::to_string_pretty(&manifest).unwrap_or_default() + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_and_manifests() {
        let d = S3Destination::parse("s3://fin/reports/br.csv").unwrap();
        assert_eq!(d.manifest().url(), "s3://fin/reports/br.manifest.json");
        assert!(S3Destination::parse("s3://fin").is_err());
        assert!(S3Destination::parse("s3://fin/dir/").is_err());
        let m: serde_json::Value =
            serde_json::from_str(&quicksight_manifest(&d.url(), Format::Csv).unwrap()).unwrap();
        assert_eq!(m["fileLocations"][0]["URIs"][0], "s3://fin/reports/br.csv");
        assert_eq!(m["globalUploadSettings"]["containsHeader"], "true");
        assert!(quicksight_manifest("s3://a/b", Format::Parquet).is_err());
    }
}
