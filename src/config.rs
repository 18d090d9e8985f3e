//! Settings from `sdds.toml`; flags and environment variables take precedence.

use std::path::{Path, PathBuf};

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
    /// Memory limit for SQL, e.g. "4GiB".
    pub memory_limit: Option<String>,
    /// Directory for spill files.
    pub spill_dir: Option<PathBuf>,
    /// Defaults of `sdds report` (`[report]`), overridden by its flags.
    pub report: Option<ReportConfig>,
    /// Settings of `sdds serve` (`[serve]`), overridden by its flags.
    pub serve: Option<ServeConfig>,
    /// Where these settings were read from (not a setting).
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

/// The `[report]` table of the configuration file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// Output format when neither `--format` nor `--out`'s extension says.
    pub format: Option<crate::cli::Format>,
    /// Start CSV with a byte order mark (Excel).
    pub bom: Option<bool>,
}

/// The `[serve]` table of the configuration file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// Address to listen on.
    pub listen: Option<std::net::SocketAddr>,
    /// File whose first line is the password.
    pub password_file: Option<PathBuf>,
    /// PEM certificate chain for TLS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS.
    pub tls_key: Option<PathBuf>,
    /// Longest a statement may run, e.g. "10m".
    pub statement_timeout: Option<String>,
    /// Most rows one result may have.
    pub max_rows: Option<u64>,
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
        let config: Config =
            toml::from_str(&text).with_context(|| format!("invalid {}", path.display()))?;
        Ok(Config {
            path: Some(path.to_path_buf()),
            ..config
        })
    }

    /// The warehouse: flag or env, then file, then the default.
    pub fn warehouse(&self, flag: Option<&str>) -> String {
        flag.map(str::to_string)
            .or_else(|| self.warehouse.clone())
            .unwrap_or_else(|| DEFAULT_WAREHOUSE.to_string())
    }

    /// Memory limit and spill directory: flag or env, then file, then the defaults.
    pub fn resources(
        &self,
        args: &crate::cli::ResourceArgs,
    ) -> anyhow::Result<sdds_sql::Resources> {
        let memory_limit = match (args.memory_limit, &self.memory_limit) {
            (Some(bytes), _) => Some(bytes),
            (None, Some(text)) => Some(
                parse_size(text)
                    .map_err(|e| anyhow::anyhow!("memory_limit in the configuration file: {e}"))?,
            ),
            (None, None) => None,
        };
        Ok(sdds_sql::Resources {
            memory_limit,
            spill_dir: args.spill_dir.clone().or_else(|| self.spill_dir.clone()),
        })
    }

    /// The source: flag or env, then file, then the bundled sample.
    pub fn source(&self, flag: Option<&str>) -> String {
        flag.map(str::to_string)
            .or_else(|| self.source.clone())
            .unwrap_or_else(|| crate::sample::NAME.to_string())
    }
}

/// Parses a size in bytes: a number with an optional unit K, M, G or T (powers of 1024; `KB`,
/// `KiB` and friends mean the same), e.g. `4GiB`, `512M`, `1.5G`, `1048576`.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(format!("{text:?} is not a size like 4GiB or 512M")),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size like 4GiB or 512M"))?;
    let bytes = value * (1u64 << shift) as f64;
    if !(bytes >= 1.0 && bytes < usize::MAX as f64) {
        return Err(format!("{text:?} is out of range"));
    }
    Ok(bytes as usize)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_size("4GiB"), Ok(4 << 30));
        assert_eq!(parse_size("4G"), Ok(4 << 30));
        assert_eq!(parse_size("512m"), Ok(512 << 20));
        assert_eq!(parse_size("1.5GB"), Ok(3 << 29));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("4 parsecs").is_err());
        assert!(parse_size("0").is_err());
    }
}
