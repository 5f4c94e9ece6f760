//! Checked settings, resolved from the raw flags of [`crate::cli`]: everything a command needs, validated
//! once, with one-line errors naming the flag. Settings read the cli types; the cli never reads settings.
//!
//! Here: what every command shares (the store, the output). [`backup`]: `backup`'s settings;
//! [`node_access`]: the node-access group `backup` and `restore` share; [`config`]: the config file and
//! environment layers under the flags; [`credentials`]: the AWS keys.

mod backup;
pub mod config;
mod credentials;
mod node_access;

pub use backup::{BackupSettings, SchemaSettings};
pub use credentials::Credentials;
pub use node_access::NodeAccessSettings;
// The output module owns these; settings chooses them.
pub use crate::output::{OutputMode, Verbosity};

use crate::cli::{GlobalArgs, SseChoice, StoreArgs};
use anyhow::{bail, Context, Result};
use std::io::IsTerminal;

/// Where the bucket is and how objects are written.
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub bucket: String,
    pub region: String,
    pub endpoint: Option<String>,
    /// The base path without leading or trailing slashes.
    pub base_path: String,
    pub sse: Option<SseChoice>,
    pub sse_kms_key_id: Option<String>,
    pub storage_class: Option<String>,
    pub credentials: Credentials,
}

/// Settings every subcommand shares.
#[derive(Debug, Clone)]
pub struct CommonSettings {
    pub s3: S3Settings,
    pub output: OutputMode,
    pub verbosity: Verbosity,
}

impl CommonSettings {
    pub fn resolve(global: &GlobalArgs, quiet: bool) -> Result<Self> {
        let credentials = Credentials::resolve(global)?;
        Ok(CommonSettings {
            s3: S3Settings::resolve(&global.store, credentials)?,
            output: output_mode(global.json),
            verbosity: if quiet {
                Verbosity::Quiet
            } else if global.verbose {
                Verbosity::Verbose
            } else {
                Verbosity::Normal
            },
        })
    }
}

impl S3Settings {
    /// The store flags checked; `credentials` as [`Credentials::resolve`] found them.
    pub fn resolve(store: &StoreArgs, credentials: Credentials) -> Result<Self> {
        let bucket = store
            .s3_bucket_name
            .clone()
            .filter(|b| !b.is_empty())
            .context("the flag --s3-bucket-name is required")?;
        let base_path = store
            .s3_base_path
            .as_deref()
            .context("the flag --s3-base-path is required")?
            .trim_matches('/')
            .to_string();
        if let Some(endpoint) = &store.s3_endpoint {
            if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                bail!(
                    "invalid --s3-endpoint {endpoint:?}: expected http://HOST:PORT or https://HOST"
                );
            }
        }
        let sse = if store.s3_ssenc {
            Some(SseChoice::Aes256)
        } else {
            store.s3_sse
        };
        if store.s3_sse_kms_key_id.is_some() && sse != Some(SseChoice::AwsKms) {
            bail!("--s3-sse-kms-key-id needs --s3-sse=aws:kms");
        }
        Ok(S3Settings {
            bucket,
            region: store.s3_bucket_region.clone(),
            endpoint: store.s3_endpoint.clone(),
            base_path,
            sse,
            sse_kms_key_id: store.s3_sse_kms_key_id.clone(),
            storage_class: store.s3_storage_class.clone(),
            credentials,
        })
    }
}

/// JSON when asked; bars on a terminal unless `NO_PROGRESS` is set; plain lines otherwise.
fn output_mode(json: bool) -> OutputMode {
    if json {
        OutputMode::Json
    } else if std::io::stderr().is_terminal() && std::env::var_os("NO_PROGRESS").is_none() {
        OutputMode::Terminal
    } else {
        OutputMode::Plain
    }
}

#[cfg(test)]
mod tests;
