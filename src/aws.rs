//! AWS access settings shared by an `s3://` source and an `s3://` warehouse.

use std::collections::HashMap;

use aws_config::SdkConfig;
use sdds_source::{S3Options, S3Source};
use sdds_warehouse::Warehouse;
use tokio::sync::OnceCell;

use crate::cli::AwsArgs;
use crate::config::Config;

/// S3 access for this run: the options, and the SDK configuration (credential chain, region)
/// they give, loaded once on first use so that commands without S3 never touch it.
pub struct Aws {
    /// Flags and `[aws]` settings.
    pub options: S3Options,
    sdk: OnceCell<SdkConfig>,
}

impl Aws {
    /// The S3 options: flags (and their environment variables) over `[aws]` in the config file.
    pub fn new(args: &AwsArgs, config: &Config, quiet: bool) -> Aws {
        let file = config.aws.clone().unwrap_or_default();
        let defaults = S3Options::default();
        let options = S3Options {
            profile: args.profile.clone().or(file.profile),
            region: args.region.clone().or(file.region),
            endpoint_url: args.endpoint_url.clone().or(file.endpoint_url),
            path_style: args.path_style || file.path_style.unwrap_or(false),
            max_attempts: args
                .max_attempts
                .or(file.max_attempts)
                .unwrap_or(defaults.max_attempts),
            announce_retries: !quiet,
            ..defaults
        };
        Aws {
            options,
            sdk: OnceCell::new(),
        }
    }

    async fn sdk_config(&self) -> &SdkConfig {
        self.sdk
            .get_or_init(|| self.options.load_sdk_config())
            .await
    }

    /// The SDK configuration and the options, for writing exports to S3.
    pub async fn sdk(&self) -> (&SdkConfig, &S3Options) {
        (self.sdk_config().await, &self.options)
    }

    /// The source `s3://bucket[/prefix]`.
    pub async fn source(&self, url: &str) -> anyhow::Result<S3Source> {
        let config = self.sdk_config().await;
        Ok(S3Source::with_sdk_config(
            url,
            config,
            self.options.clone(),
        )?)
    }

    /// Opens the warehouse (`create`: for sync; read commands never create one); an `s3://`
    /// one gets object-store options from these settings (credentials come from the same
    /// default chain as the source's).
    pub async fn open_warehouse(&self, location: &str, create: bool) -> anyhow::Result<Warehouse> {
        let warehouse = if create {
            Warehouse::open(location)?
        } else {
            Warehouse::open_existing(location)?
        };
        if warehouse.root().scheme() != "s3" {
            return Ok(warehouse);
        }
        let sdk = self.sdk_config().await;
        let mut storage = HashMap::new();
        if let Some(region) = sdk.region() {
            storage.insert("AWS_REGION".to_string(), region.to_string());
        }
        if let Some(profile) = &self.options.profile {
            storage.insert("AWS_PROFILE".to_string(), profile.clone());
        }
        if let Some(endpoint) = &self.options.endpoint_url {
            storage.insert("AWS_ENDPOINT_URL".to_string(), endpoint.clone());
            if endpoint.starts_with("http://") {
                storage.insert("AWS_ALLOW_HTTP".to_string(), "true".to_string());
            }
        }
        storage.insert(
            "aws_virtual_hosted_style_request".to_string(),
            (!self.options.path_style).to_string(),
        );
        storage.insert(
            "max_retries".to_string(),
            self.options.max_attempts.saturating_sub(1).to_string(),
        );
        Ok(warehouse.with_storage_options(storage))
    }
}
