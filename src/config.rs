//! Settings from `sdds.toml`; flags and environment variables take precedence.

use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

/// Default warehouse directory.
pub const DEFAULT_WAREHOUSE: &str = "warehouse";
/// Name of the configuration file looked for in the working directory.
pub const CONFIG_FILE: &str = "sdds.toml";

/// The configuration file's contents.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Warehouse location.
    pub warehouse: Option<String>,
    /// Source location.
    pub source: Option<String>,
    /// S3 access (`[aws]`), overridden by the flags.
    pub aws: Option<AwsConfig>,
}

/// The `[aws]` table of the configuration file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    /// Named profile.
    pub profile: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// S3-compatible endpoint.
    pub endpoint_url: Option<String>,
    /// Path-style addressing.
    pub path_style: Option<bool>,
    /// Attempts per request.
    pub max_attempts: Option<u32>,
}

impl Config {
    /// Reads `path`, or `./sdds.toml` if it exists, or nothing.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let path = match path {
            Some(p) => p,
            None if Path::new(CONFIG_FILE).is_file() => Path::new(CONFIG_FILE),
            None => return Ok(Config::default()),
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid {}", path.display()))
    }

    /// The warehouse: flag or env, then file, then the default.
    pub fn warehouse(&self, flag: Option<&str>) -> String {
        flag.map(str::to_string)
            .or_else(|| self.warehouse.clone())
            .unwrap_or_else(|| DEFAULT_WAREHOUSE.to_string())
    }

    /// The source: flag or env, then file, then the bundled sample.
    pub fn source(&self, flag: Option<&str>) -> String {
        flag.map(str::to_string)
            .or_else(|| self.source.clone())
            .unwrap_or_else(|| crate::sample::NAME.to_string())
    }
}
