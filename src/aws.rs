//! AWS access settings shared by an `s3://` source and an `s3://` warehouse.

use std::collections::HashMap;

use sdds_source::S3Options;
use sdds_warehouse::Warehouse;

use crate::cli::AwsArgs;
use crate::config::Config;

/// The S3 options: flags (and their environment variables) over `[aws]` in the config file.
pub fn s3_options(args: &AwsArgs, config: &Config) -> S3Options {
    let file = config.aws.clone().unwrap_or_default();
    let defaults = S3Options::default();
    S3Options {
        profile: args.profile.clone().or(file.profile),
        region: args.region.clone().or(file.region),
        endpoint_url: args.endpoint_url.clone().or(file.endpoint_url),
        path_style: args.path_style || file.path_style.unwrap_or(false),
        max_attempts: args
            .max_attempts
            .or(file.max_attempts)
            .unwrap_or(defaults.max_attempts),
        ..defaults
    }
}

/// Opens the warehouse; an `s3://` one gets object-store options from `options` (credentials
/// come from the same default chain as the source's).
pub async fn open_warehouse(location: &str, options: &S3Options) -> anyhow::Result<Warehouse> {
    let warehouse = Warehouse::open(location)?;
    if warehouse.root().scheme() != "s3" {
        return Ok(warehouse);
    }
    let sdk = options.load_sdk_config().await;
    let mut storage = HashMap::new();
    if let Some(region) = sdk.region() {
        storage.insert("AWS_REGION".to_string(), region.to_string());
    }
    if let Some(profile) = &options.profile {
        storage.insert("AWS_PROFILE".to_string(), profile.clone());
    }
    if let Some(endpoint) = &options.endpoint_url {
        storage.insert("AWS_ENDPOINT_URL".to_string(), endpoint.clone());
        if endpoint.starts_with("http://") {
            storage.insert("AWS_ALLOW_HTTP".to_string(), "true".to_string());
        }
    }
    storage.insert(
        "aws_virtual_hosted_style_request".to_string(),
        (!options.path_style).to_string(),
    );
    storage.insert(
        "max_retries".to_string(),
        options.max_attempts.saturating_sub(1).to_string(),
    );
    Ok(warehouse.with_storage_options(storage))
}
