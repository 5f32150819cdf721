//! The object stores behind URLs: `s3://` (and `s3a://`), `gs://`, `az://`/`abfs(s)://`,
//! `http(s)://` and `file://`.
//!
//! A store is built the first time a URL of its bucket (or host) is read, from the standard
//! environment variables and files of the tools people already use, or from options given
//! by name in the statement, which then replace the bucket's store for the rest of the
//! session. Each process builds its own: a cluster's workers resolve credentials from their
//! own environment, so no secret ever travels in a plan.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::common::config::{ConfigEntry, ConfigExtension, ExtensionOptions};
use datafusion::common::{plan_datafusion_err, plan_err, DataFusionError, Result};
use datafusion::execution::object_store::{
    DefaultObjectStoreRegistry, ObjectStoreRegistry, ObjectStoreUrl,
};
use datafusion::execution::session_state::SessionState;
use datafusion::prelude::SessionConfig;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::http::HttpBuilder;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};
use url::Url;

/// The kinds of store a URL's scheme names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// Amazon S3 and S3-compatible servers (`s3://bucket/key`, `s3a://`).
    S3,
    /// Google Cloud Storage (`gs://bucket/key`).
    Gcs,
    /// Azure Blob Storage and Data Lake (`az://container/key`, `abfs(s)://`).
    Azure,
    /// A web server (`http(s)://host/path`): single files, no listing.
    Http,
    /// The local filesystem (`file:///path`).
    Local,
}

impl StoreKind {
    /// The kind `url`'s scheme names; other schemes are refused with the supported ones.
    pub fn of(url: &Url) -> Result<StoreKind> {
        Ok(match url.scheme() {
            "s3" | "s3a" => StoreKind::S3,
            "gs" | "gcs" => StoreKind::Gcs,
            "az" | "azure" | "abfs" | "abfss" | "adl" => StoreKind::Azure,
            "http" | "https" => StoreKind::Http,
            "file" => StoreKind::Local,
            other => {
                return plan_err!(
                    "unsupported URL scheme '{other}://' in '{}': Rask reads s3://, gs://, az:// (abfs://), http(s):// and file:// URLs",
                    redact_url(url)
                )
            }
        })
    }

    /// Whether the store can list keys, so that globs and directories work on it.
    pub fn can_list(self) -> bool {
        self != StoreKind::Http
    }
}

/// Whether `text` is a URL of a store rather than a local path (`C:\` is a path).
pub fn is_url(text: &str) -> bool {
    text.split_once("://")
        .is_some_and(|(scheme, _)| scheme.len() > 1 && scheme.chars().all(char::is_alphanumeric))
}

/// Options of an object store given by name: `region => 'eu-west-1'` in a table function,
/// `'aws.region' 'eu-west-1'` in `CREATE EXTERNAL TABLE … OPTIONS`, `storage_options` of a
/// reader. Keys are kept without their `aws.`/`gcp.`/`azure.` prefix; values of secret keys
/// never show in `Debug`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StorageOptions(BTreeMap<String, String>);

impl std::fmt::Debug for StorageOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = self.0.iter().map(|(key, value)| {
            let value = if is_secret(key) { REDACTED } else { value };
            (key, value)
        });
        f.debug_map().entries(shown).finish()
    }
}

/// What a secret shows as.
pub const REDACTED: &str = "***";

/// The option names (without prefix) whose values are secrets.
const SECRET_KEYS: &[&str] = &[
    "secret",
    "secret_access_key",
    "aws_secret_access_key",
    "session_token",
    "aws_session_token",
    "token",
    "access_key",
    "account_key",
    "azure_storage_account_key",
    "azure_storage_access_key",
    "sas_key",
    "sas_token",
    "azure_storage_sas_key",
    "azure_storage_sas_token",
    "azure_storage_token",
    "bearer_token",
    "client_secret",
    "azure_client_secret",
    "service_account_key",
    "google_service_account_key",
];

/// Whether the option `key` (any case, with or without prefix) holds a secret.
pub fn is_secret(key: &str) -> bool {
    let key = unprefixed(&key.to_ascii_lowercase());
    SECRET_KEYS.contains(&key.as_str())
}

fn unprefixed(key: &str) -> String {
    ["aws.", "gcp.", "gcs.", "google.", "azure."]
        .iter()
        .find_map(|prefix| key.strip_prefix(prefix))
        .unwrap_or(key)
        .to_string()
}

impl StorageOptions {
    /// Whether no option is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sets option `key` (`region`, `aws.region`, `endpoint`, `anonymous`, …).
    pub fn insert(&mut self, key: &str, value: impl Into<String>) {
        self.0
            .insert(unprefixed(&key.to_ascii_lowercase()), value.into());
    }

    /// Whether `key` (`aws.region`, `format.delimiter`) is a storage option rather than one
    /// of a file format.
    pub fn is_storage_key(key: &str) -> bool {
        let key = key.to_ascii_lowercase();
        ["aws.", "gcp.", "gcs.", "google.", "azure.", "http."]
            .iter()
            .any(|prefix| key.starts_with(prefix))
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The options with the names Dask's filesystems give them (s3fs's `key`, `secret`,
    /// `token`, `anon`, `endpoint_url`, `region_name`; gcsfs's `token`, a credentials file or
    /// `'anon'`; adlfs's `anon`) renamed to the store's, so that `storage_options` written
    /// for Dask work unchanged.
    fn in_names_of(&self, kind: StoreKind) -> StorageOptions {
        let renamed = |key: &str, value: &str| -> (String, String) {
            let name = match (kind, key) {
                (_, "anon") => "anonymous",
                (StoreKind::S3, "key") => "access_key_id",
                (StoreKind::S3, "secret") => "secret_access_key",
                (StoreKind::S3, "token") => "session_token",
                (StoreKind::S3, "endpoint_url") => "endpoint",
                (StoreKind::S3, "region_name") => "region",
                (StoreKind::Gcs, "token") if value == "anon" => {
                    return ("anonymous".into(), "true".into())
                }
                (StoreKind::Gcs, "token") => "service_account_path",
                _ => key,
            };
            (name.to_string(), value.to_string())
        };
        StorageOptions(
            self.0
                .iter()
                .map(|(key, value)| renamed(key, value))
                .collect(),
        )
    }

    /// The options but `anonymous`, as keys of one store's builder; one it does not know is
    /// an error naming the store.
    fn keys_of<K: std::str::FromStr>(&self, store: &str, bucket: &str) -> Result<Vec<(K, &str)>> {
        self.0
            .iter()
            .filter(|(key, _)| *key != "anonymous")
            .map(|(key, value)| match key.parse() {
                Ok(parsed) => Ok((parsed, value.as_str())),
                Err(_) => plan_err!("unknown storage option '{key}' for {store} ('{bucket}')"),
            })
            .collect()
    }

    fn flag(&self, key: &str) -> Result<bool> {
        match self.get(key).map(str::to_ascii_lowercase).as_deref() {
            None | Some("false" | "0" | "no" | "off") => Ok(false),
            Some("true" | "1" | "yes" | "on") => Ok(true),
            Some(other) => plan_err!("storage option '{key}' must be true or false, got '{other}'"),
        }
    }
}

/// Requests that fail for reasons worth retrying (a dropped connection, a 5xx) are retried
/// this often within this time, then fail: an unreachable endpoint is an error, not a hang.
fn retry() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            base: 2.0,
        },
        max_retries: 3,
        retry_timeout: Duration::from_secs(15),
    }
}

fn client_options(allow_http: bool) -> ClientOptions {
    ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(3))
        .with_allow_http(allow_http)
}

/// Builds the store for `url`'s bucket (container, host) from the environment and `options`,
/// which take precedence.
pub fn build_store(url: &Url, options: &StorageOptions) -> Result<Arc<dyn ObjectStore>> {
    let kind = StoreKind::of(url)?;
    let options = &options.in_names_of(kind);
    let bucket = bucket_url(url);
    let anonymous = options.flag("anonymous")?;
    let built: Result<Arc<dyn ObjectStore>, object_store::Error> = match kind {
        StoreKind::Local => return Ok(crate::fetched::Observed::local()),
        StoreKind::S3 => {
            let mut builder = aws_profile(AmazonS3Builder::from_env())?;
            for (key, value) in options.keys_of::<AmazonS3ConfigKey>("S3", &bucket)? {
                builder = builder.with_config(key, value);
            }
            if anonymous {
                builder = builder.with_skip_signature(true);
            } else {
                check_aws_credentials(&builder, &bucket)?;
            }
            let endpoint = builder.get_config_value(&AmazonS3ConfigKey::Endpoint);
            let plain = endpoint.is_some_and(|e| e.starts_with("http://"));
            builder
                .with_url(bucket.as_str())
                .with_client_options(client_options(plain))
                .with_retry(retry())
                .build()
                .map(|store| Arc::new(store) as _)
        }
        StoreKind::Gcs => {
            // GOOGLE_APPLICATION_CREDENTIALS among them.
            let mut builder = GoogleCloudStorageBuilder::from_env();
            for (key, value) in options.keys_of::<GoogleConfigKey>("GCS", &bucket)? {
                builder = builder.with_config(key, value);
            }
            if anonymous {
                builder = builder.with_skip_signature(true);
            } else {
                check_google_credentials(&builder, &bucket)?;
            }
            builder
                .with_url(bucket.as_str())
                .with_client_options(client_options(false))
                .with_retry(retry())
                .build()
                .map(|store| Arc::new(store) as _)
        }
        StoreKind::Azure => {
            let mut builder = MicrosoftAzureBuilder::from_env();
            for (key, value) in options.keys_of::<AzureConfigKey>("Azure", &bucket)? {
                builder = builder.with_config(key, value);
            }
            if anonymous {
                builder = builder.with_skip_signature(true);
            }
            let account = builder.get_config_value(&AzureConfigKey::AccountName);
            let in_url = url
                .host_str()
                .is_some_and(|h| h.contains(".core.windows.net"));
            if account.is_none() && !in_url {
                return plan_err!(
                    "no storage account for '{bucket}': set AZURE_STORAGE_ACCOUNT_NAME (with AZURE_STORAGE_ACCOUNT_KEY or a SAS in AZURE_STORAGE_SAS_KEY), pass account_name => '…', or name it in the URL (abfss://container@account.dfs.core.windows.net/…)"
                );
            }
            if !anonymous {
                check_azure_credentials(&builder, &bucket)?;
            }
            builder
                .with_url(bucket.as_str())
                .with_client_options(client_options(false))
                .with_retry(retry())
                .build()
                .map(|store| Arc::new(store) as _)
        }
        StoreKind::Http => {
            if let Some(key) = options.0.keys().find(|k| *k != "anonymous") {
                return plan_err!("unknown storage option '{key}' for HTTP ('{bucket}')");
            }
            HttpBuilder::new()
                .with_url(bucket.as_str())
                .with_client_options(client_options(true))
                .with_retry(retry())
                .build()
                .map(|store| Arc::new(store) as _)
        }
    };
    let store_url = ObjectStoreUrl::parse(&bucket)?;
    built
        .map(|store| crate::fetched::Observed::remote(store, store_url.as_str()))
        .map_err(|e| plan_datafusion_err!("cannot open '{bucket}': {}", redact(&e.to_string())))
}

/// `scheme://bucket` (or `scheme://host:port`): what one store serves.
pub fn bucket_url(url: &Url) -> String {
    // `abfss://container@account.dfs.core.windows.net` names the container as the user.
    let user = match url.username() {
        "" => String::new(),
        name => format!("{name}@"),
    };
    let mut bucket = format!(
        "{}://{user}{}",
        url.scheme(),
        url.host_str().unwrap_or_default()
    );
    if let Some(port) = url.port() {
        bucket.push_str(&format!(":{port}"));
    }
    bucket
}

/// Fills what the standard AWS files give for `AWS_PROFILE` (or `default`): keys and token
/// from `~/.aws/credentials`, region and endpoint from `~/.aws/config`; the environment
/// variables, already in `builder`, win.
fn aws_profile(mut builder: AmazonS3Builder) -> Result<AmazonS3Builder> {
    let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let file = |variable: &str, name: &str| {
        std::env::var_os(variable)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(name)))
    };
    let credentials = file("AWS_SHARED_CREDENTIALS_FILE", "credentials")
        .and_then(|path| read_ini_section(&path, &profile));
    let config_section = if profile == "default" {
        profile.clone()
    } else {
        format!("profile {profile}")
    };
    let config =
        file("AWS_CONFIG_FILE", "config").and_then(|path| read_ini_section(&path, &config_section));
    if std::env::var_os("AWS_PROFILE").is_some() && credentials.is_none() && config.is_none() {
        return plan_err!(
            "AWS_PROFILE names profile '{profile}', which neither ~/.aws/credentials nor ~/.aws/config has"
        );
    }
    let settings = [
        (
            credentials.as_ref(),
            "aws_access_key_id",
            AmazonS3ConfigKey::AccessKeyId,
        ),
        (
            credentials.as_ref(),
            "aws_secret_access_key",
            AmazonS3ConfigKey::SecretAccessKey,
        ),
        (
            credentials.as_ref(),
            "aws_session_token",
            AmazonS3ConfigKey::Token,
        ),
        (config.as_ref(), "region", AmazonS3ConfigKey::Region),
        (config.as_ref(), "endpoint_url", AmazonS3ConfigKey::Endpoint),
    ];
    for (section, name, key) in settings {
        let value = section.and_then(|s| s.get(name));
        if let (Some(value), None) = (value, builder.get_config_value(&key)) {
            builder = builder.with_config(key, value);
        }
    }
    Ok(builder)
}

/// The `key = value` lines of `[section]` in an INI file such as `~/.aws/credentials`.
fn read_ini_section(path: &std::path::Path, section: &str) -> Option<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut found: Option<BTreeMap<String, String>> = None;
    let mut inside = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = name.trim() == section;
            if inside {
                found.get_or_insert_with(BTreeMap::new);
            }
        } else if let (true, Some((key, value))) = (inside, line.split_once('=')) {
            found
                .get_or_insert_with(BTreeMap::new)
                .insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    found
}

/// Refuses to go on without credentials rather than wait on instance metadata that is not
/// there: the error names every source tried.
fn check_aws_credentials(builder: &AmazonS3Builder, bucket: &str) -> Result<()> {
    let has = |key| {
        builder
            .get_config_value(&key)
            .is_some_and(|v| !v.is_empty())
    };
    let delegated = [
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ]
    .iter()
    .any(|variable| std::env::var_os(variable).is_some());
    let keys = has(AmazonS3ConfigKey::AccessKeyId) && has(AmazonS3ConfigKey::SecretAccessKey);
    if keys
        || delegated
        || std::env::var_os("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v == "false")
    {
        return Ok(());
    }
    plan_err!(
        "no credentials found for '{bucket}': tried the options access_key_id/secret_access_key, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profile '{}' in ~/.aws/credentials, AWS_WEB_IDENTITY_TOKEN_FILE and AWS_CONTAINER_CREDENTIALS_*; for a public bucket use anonymous => true",
        std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into())
    )
}

/// As for S3: fails at once without credentials rather than ask the metadata server of a
/// machine that is not on Google Cloud.
fn check_google_credentials(builder: &GoogleCloudStorageBuilder, bucket: &str) -> Result<()> {
    let configured = [
        GoogleConfigKey::ServiceAccount,
        GoogleConfigKey::ServiceAccountKey,
        GoogleConfigKey::ApplicationCredentials,
    ]
    .iter()
    .any(|key| builder.get_config_value(key).is_some());
    let gcloud = std::env::var_os("HOME").is_some_and(|home| {
        std::path::Path::new(&home)
            .join(".config/gcloud/application_default_credentials.json")
            .exists()
    });
    if configured || gcloud || std::env::var_os("GCE_METADATA_HOST").is_some() {
        return Ok(());
    }
    plan_err!(
        "no credentials found for '{bucket}': tried the option service_account_path, GOOGLE_APPLICATION_CREDENTIALS, GOOGLE_SERVICE_ACCOUNT(_PATH/_KEY) and ~/.config/gcloud/application_default_credentials.json; on Google Cloud set GCE_METADATA_HOST; for a public bucket use anonymous => true"
    )
}

/// As for S3: a key, a SAS, a token, a service principal, the Azure CLI or a managed
/// identity's endpoint, or an error naming them.
fn check_azure_credentials(builder: &MicrosoftAzureBuilder, bucket: &str) -> Result<()> {
    let configured = [
        AzureConfigKey::AccessKey,
        AzureConfigKey::SasKey,
        AzureConfigKey::Token,
        AzureConfigKey::ClientSecret,
        AzureConfigKey::FederatedTokenFile,
        AzureConfigKey::UseAzureCli,
        AzureConfigKey::UseEmulator,
        AzureConfigKey::MsiEndpoint,
    ]
    .iter()
    .any(|key| builder.get_config_value(key).is_some_and(|v| v != "false"));
    if configured || std::env::var_os("IDENTITY_ENDPOINT").is_some() {
        return Ok(());
    }
    plan_err!(
        "no credentials found for '{bucket}': tried the options account_key/sas_token, AZURE_STORAGE_ACCOUNT_KEY, AZURE_STORAGE_SAS_KEY, AZURE_STORAGE_TOKEN, AZURE_CLIENT_SECRET, AZURE_FEDERATED_TOKEN_FILE, AZURE_USE_AZURE_CLI and a managed identity (IDENTITY_ENDPOINT, MSI_ENDPOINT); for a public container use anonymous => true"
    )
}

/// DataFusion's store registry, building a store the first time a bucket is asked for,
/// from the environment and the options carried for its bucket.
#[derive(Debug)]
pub struct LazyStores {
    built: DefaultObjectStoreRegistry,
    carried: BTreeMap<String, StorageOptions>,
}

impl Default for LazyStores {
    fn default() -> LazyStores {
        LazyStores::new(BTreeMap::new())
    }
}

impl LazyStores {
    fn new(carried: BTreeMap<String, StorageOptions>) -> LazyStores {
        let built = DefaultObjectStoreRegistry::default();
        let local = ObjectStoreUrl::local_filesystem();
        built.register_store(local.as_ref(), crate::fetched::Observed::local());
        LazyStores { built, carried }
    }

    /// The stores of a process that plans or runs the queries of a session whose
    /// configuration carries storage options (see [`CarriedOptions`]).
    pub fn carrying(config: &SessionConfig) -> Option<LazyStores> {
        let carried = config.options().extensions.get::<CarriedOptions>()?;
        let carried = carried.0.lock().ok()?.clone();
        (!carried.is_empty()).then(|| LazyStores::new(carried))
    }
}

impl ObjectStoreRegistry for LazyStores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.built.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.built.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        if let Ok(store) = self.built.get_store(url) {
            return Ok(store);
        }
        let options = self
            .carried
            .get(&bucket_url(url))
            .cloned()
            .unwrap_or_default();
        let store = build_store(url, &options)?;
        self.built.register_store(url, Arc::clone(&store));
        Ok(store)
    }
}

/// The storage options a session's statements gave, without the secrets, carried in its
/// configuration (`rask_storage.<option>@<bucket>`) to a cluster's scheduler and workers,
/// which take the secrets from their own environment. Clones share one map, so that a
/// session's configuration, however often copied, carries what its later statements add.
#[derive(Debug, Clone, Default)]
pub struct CarriedOptions(Arc<std::sync::Mutex<BTreeMap<String, StorageOptions>>>);

impl CarriedOptions {
    fn carry(&self, bucket: String, options: &StorageOptions) {
        let shareable = options.0.iter().filter(|(key, _)| !is_secret(key));
        if let Ok(mut carried) = self.0.lock() {
            let entry = carried.entry(bucket).or_default();
            for (key, value) in shareable {
                entry.insert(key, value.clone());
            }
        }
    }
}

impl ConfigExtension for CarriedOptions {
    const PREFIX: &'static str = "rask_storage";
}

impl ExtensionOptions for CarriedOptions {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let Some((option, bucket)) = key.split_once('@') else {
            return plan_err!("a storage option is set as rask_storage.<option>@<bucket URL>");
        };
        let mut options = StorageOptions::default();
        options.insert(option, value);
        self.carry(bucket.to_string(), &options);
        Ok(())
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        let Ok(carried) = self.0.lock() else {
            return vec![];
        };
        carried
            .iter()
            .flat_map(|(bucket, options)| {
                options.0.iter().map(move |(option, value)| ConfigEntry {
                    key: format!("{}.{option}@{bucket}", Self::PREFIX),
                    value: Some(value.clone()),
                    description: "a storage option of a bucket, for a cluster's processes",
                })
            })
            .collect()
    }
}

/// The store for `url`: built from `options` (and registered for the session, which
/// carries the options but secrets to a cluster) when there are any, else the session's.
pub fn store_for(
    state: &SessionState,
    url: &Url,
    options: &StorageOptions,
) -> Result<Arc<dyn ObjectStore>> {
    let registry = &state.runtime_env().object_store_registry;
    if options.is_empty() {
        return registry.get_store(url);
    }
    let store = build_store(url, options)?;
    registry.register_store(url, Arc::clone(&store));
    if let Some(carried) = state.config().options().extensions.get::<CarriedOptions>() {
        carried.carry(bucket_url(url), options);
    }
    Ok(store)
}

/// `url` as it may be shown: without a password or query string (which may carry a SAS
/// token or a signature).
pub fn redact_url(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some(REDACTED));
    }
    if shown.query().is_some() {
        shown.set_query(Some(REDACTED));
    }
    shown.to_string()
}

/// `text` with the values of secret options (`secret_access_key => '…'`,
/// `'aws.secret_access_key' '…'`, `SECRET_ACCESS_KEY=…`) replaced by `***`, for errors,
/// EXPLAIN, history and logs.
pub fn redact(text: &str) -> String {
    static PATTERN: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let pattern = PATTERN.get_or_init(|| {
        let names = SECRET_KEYS.join("|");
        regex::Regex::new(&format!(
            r#"(?i)\b((?:aws\.|gcp\.|gcs\.|google\.|azure\.)?(?:{names})(?:['"]?\s*(?:=>|=|:)\s*|['"]\s+))('[^']*'|"[^"]*"|[^\s,)'"]+)"#
        ))
        .expect("the secret pattern is valid")
    });
    pattern
        .replace_all(text, |c: &regex::Captures| {
            let quote = match c[2].chars().next() {
                Some(q @ ('\'' | '"')) => q.to_string(),
                _ => String::new(),
            };
            format!("{}{quote}{REDACTED}{quote}", &c[1])
        })
        .into_owned()
}

/// One line for a failed store request on `what` (a URL), naming the endpoint and the time
/// spent when it could not be reached.
pub fn store_error(what: &str, error: object_store::Error, started: Instant) -> DataFusionError {
    let text = redact(&error.to_string());
    let lower = text.to_ascii_lowercase();
    let said = innermost(&text);
    let in_s3 = Url::parse(what).is_ok_and(|url| matches!(StoreKind::of(&url), Ok(StoreKind::S3)));
    let message = match &error {
        _ if lower.contains("nosuchbucket") || lower.contains("bucket does not exist") => {
            format!("bucket not found: '{what}'")
        }
        object_store::Error::NotFound { .. } => format!("not found: '{what}'"),
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => {
            format!("access denied to '{what}': {said}")
        }
        _ if lower.contains("accessdenied")
            || lower.contains("invalidaccesskeyid")
            || lower.contains("signaturedoesnotmatch")
            || lower.contains("403 forbidden") =>
        {
            format!("access denied to '{what}': {said}")
        }
        _ if REGION_CODES
            .iter()
            .any(|code| lower.contains(&code.to_ascii_lowercase())) =>
        {
            format!("wrong region for '{what}': {said}")
        }
        _ if in_s3 && said.ends_with("400 Bad Request") => {
            // A HEAD's answer has no body, so S3 cannot say why; this is its usual reason.
            format!(
                "cannot read '{what}': {said} (S3 refuses a request signed for a region other \
                 than the bucket's this way: check AWS_REGION or region => '…')"
            )
        }
        _ if lower.contains("error sending request")
            || lower.contains("connection refused")
            || lower.contains("dns error")
            || lower.contains("timed out")
            || lower.contains("connect") =>
        {
            format!(
                "cannot reach the endpoint of '{what}' (gave up after {:.1} s): {said}",
                started.elapsed().as_secs_f64()
            )
        }
        _ => format!("cannot read '{what}': {said}"),
    };
    DataFusionError::Plan(message)
}

/// The part of a store's message worth showing, on one line: the request and the status
/// the server answered, without the lead-in the store's name already gives.
fn innermost(text: &str) -> String {
    let text = readable_reply(text);
    let line = text.lines().next().unwrap_or(&text);
    let line = line
        .rsplit_once("Error performing ")
        .map_or(line, |(_, request)| request);
    line.trim().trim_end_matches(':').trim().to_string()
}

/// S3's codes for a request signed for, or sent to, another region than the bucket's.
const REGION_CODES: [&str; 3] = [
    "AuthorizationHeaderMalformed",
    "PermanentRedirect",
    "IllegalLocationConstraintException",
];

/// `text` with an S3 error document in it (`<Error><Code>C</Code><Message>M</Message>…`,
/// often after an XML declaration and a line break) cut down to `C: M`, and where the code
/// is about the region and the document names the right one, how to set it.
pub fn readable_reply(text: &str) -> String {
    let Some(start) = text.find("<Error>") else {
        return text.to_string();
    };
    let end = text[start..]
        .find("</Error>")
        .map_or(text.len(), |at| start + at + "</Error>".len());
    let document = &text[start..end];
    let field = |name: &str| {
        let open = format!("<{name}>");
        let from = document.find(&open)? + open.len();
        let to = document[from..].find(&format!("</{name}>"))?;
        Some(unescape_xml(&document[from..from + to]))
    };
    let mut said = match (field("Code"), field("Message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => return text.to_string(),
    };
    if let (Some(code), Some(region)) = (field("Code"), field("Region")) {
        if REGION_CODES.contains(&code.as_str()) {
            said.push_str(&format!(
                " (the bucket's region is '{region}': set AWS_REGION or region => '{region}')"
            ));
        }
    }
    let before = text[..start].trim_end();
    let before = before
        .strip_suffix("?>")
        .and_then(|head| head.rfind("<?xml").map(|at| head[..at].trim_end()))
        .unwrap_or(before);
    let after = &text[end..];
    if before.is_empty() {
        format!("{said}{after}")
    } else {
        format!("{before} {said}{after}")
    }
}

fn unescape_xml(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dasks_filesystem_option_names_are_the_stores() {
        let mut given = StorageOptions::default();
        for (key, value) in [
            ("key", "AKID"),
            ("secret", "s3cr3t"),
            ("token", "tok"),
            ("anon", "false"),
            ("endpoint_url", "http://127.0.0.1:9000"),
            ("region_name", "eu-west-1"),
        ] {
            given.insert(key, value);
        }
        let s3 = given.in_names_of(StoreKind::S3);
        for (key, value) in [
            ("access_key_id", "AKID"),
            ("secret_access_key", "s3cr3t"),
            ("session_token", "tok"),
            ("anonymous", "false"),
            ("endpoint", "http://127.0.0.1:9000"),
            ("region", "eu-west-1"),
        ] {
            assert_eq!(s3.get(key), Some(value), "{key}: {s3:?}");
        }
        // Every renamed key is one the S3 builder knows.
        assert!(s3.keys_of::<AmazonS3ConfigKey>("S3", "s3://b").is_ok());
        assert!(!format!("{given:?}").contains("s3cr3t"), "{given:?}");

        let mut gcs = StorageOptions::default();
        gcs.insert("token", "/keys/service.json");
        let renamed = gcs.in_names_of(StoreKind::Gcs);
        assert_eq!(
            renamed.get("service_account_path"),
            Some("/keys/service.json")
        );
        gcs.insert("token", "anon");
        assert_eq!(
            gcs.in_names_of(StoreKind::Gcs).get("anonymous"),
            Some("true")
        );
    }

    #[test]
    fn error_documents_are_cut_to_code_and_message() {
        // As Garage answers a request signed for region 'garage' on one line.
        let garage = "Server returned non-2xx status code: 400 Bad Request: <?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AuthorizationHeaderMalformed</Code><Message>Authorization header malformed, unexpected scope: &apos;20261207/garage/s3/aws4_request&apos;, expected: &apos;20261207/us-east-1/s3/aws4_request&apos;</Message><Resource>/rask-bench</Resource><Region>us-east-1</Region></Error>";
        assert_eq!(
            readable_reply(garage),
            "Server returned non-2xx status code: 400 Bad Request: AuthorizationHeaderMalformed: \
             Authorization header malformed, unexpected scope: '20261207/garage/s3/aws4_request', \
             expected: '20261207/us-east-1/s3/aws4_request' (the bucket's region is 'us-east-1': \
             set AWS_REGION or region => 'us-east-1')"
        );
        // As AWS answers, the document on a line of its own; a region named by an error
        // that is not about the region is no hint.
        let aws = "403 Forbidden: <?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied &amp; more</Message><Region>eu-west-1</Region><RequestId>X</RequestId></Error>";
        assert_eq!(
            readable_reply(aws),
            "403 Forbidden: AccessDenied: Access Denied & more"
        );
        assert_eq!(
            innermost(aws),
            "403 Forbidden: AccessDenied: Access Denied & more"
        );
        let plain = "Server returned non-2xx status code: 404 Not Found";
        assert_eq!(readable_reply(plain), plain);
        let started = Instant::now();
        let refused = |text: &str| {
            let error = object_store::Error::Generic {
                store: "S3",
                source: text.into(),
            };
            store_error("s3://b/k.csv", error, started).to_string()
        };
        assert!(
            refused(garage).contains("wrong region for 's3://b/k.csv': "),
            "{}",
            refused(garage)
        );
        let bare = refused("Error performing HEAD http://127.0.0.1:9/b/k.csv in 1ms - Server returned non-2xx status code: 400 Bad Request: ");
        assert!(bare.contains("check AWS_REGION"), "{bare}");
    }

    #[test]
    fn schemes_name_their_store() {
        let kind = |u: &str| StoreKind::of(&Url::parse(u).unwrap());
        assert_eq!(kind("s3://b/k.csv").unwrap(), StoreKind::S3);
        assert_eq!(kind("s3a://b/k.csv").unwrap(), StoreKind::S3);
        assert_eq!(kind("gs://b/k").unwrap(), StoreKind::Gcs);
        assert_eq!(
            kind("abfss://c@a.dfs.core.windows.net/k").unwrap(),
            StoreKind::Azure
        );
        assert_eq!(kind("az://c/k").unwrap(), StoreKind::Azure);
        assert_eq!(kind("https://h/k.csv").unwrap(), StoreKind::Http);
        assert_eq!(kind("file:///tmp/x.csv").unwrap(), StoreKind::Local);
        let refused = kind("ftp://h/x.csv").unwrap_err().to_string();
        assert!(
            refused.contains("unsupported URL scheme 'ftp://'"),
            "{refused}"
        );
        assert!(is_url("s3://b/x") && !is_url("data/*.csv") && !is_url("C:\\x.csv"));
    }

    #[test]
    fn secrets_are_redacted_wherever_they_are_written() {
        let sql = "SELECT * FROM read_parquet('s3://b/x.parquet', secret_access_key => 'wJalr/XUt', region => 'eu-west-1')";
        let shown = redact(sql);
        assert!(!shown.contains("wJalr"), "{shown}");
        assert!(shown.contains("secret_access_key => '***'"), "{shown}");
        assert!(shown.contains("region => 'eu-west-1'"), "{shown}");
        let ddl = "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION 's3://b/' OPTIONS ('aws.secret_access_key' 'abc123', 'aws.session_token' \"tok\")";
        let shown = redact(ddl);
        assert!(
            !shown.contains("abc123") && !shown.contains("tok\""),
            "{shown}"
        );
        assert_eq!(
            redact("AWS_SECRET_ACCESS_KEY=zzz rest"),
            "AWS_SECRET_ACCESS_KEY=*** rest"
        );
        let mut options = StorageOptions::default();
        options.insert("aws.secret_access_key", "hidden");
        options.insert("region", "us-east-1");
        let debug = format!("{options:?}");
        assert!(
            !debug.contains("hidden") && debug.contains("us-east-1"),
            "{debug}"
        );
        let url = Url::parse("https://a.blob.core.windows.net/c/x.csv?sv=2020&sig=SECRET").unwrap();
        assert!(!redact_url(&url).contains("SECRET"));
    }

    #[test]
    fn options_a_store_does_not_know_are_refused_by_name() {
        let mut options = StorageOptions::default();
        options.insert("anonymous", "true");
        options.insert("aws_bogus", "1");
        for (url, store) in [("s3://b/x.csv", "S3"), ("gs://b/x.csv", "GCS")] {
            let refused = build_store(&Url::parse(url).unwrap(), &options).unwrap_err();
            let expected = format!("unknown storage option 'aws_bogus' for {store}");
            assert!(refused.to_string().contains(&expected), "{refused}");
        }
        let mut known = StorageOptions::default();
        known.insert("anonymous", "true");
        known.insert("aws.region", "eu-west-1");
        assert!(build_store(&Url::parse("s3://b/x.csv").unwrap(), &known).is_ok());
    }

    #[test]
    fn profiles_are_read_from_ini_sections() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials");
        std::fs::write(
            &path,
            "[default]\naws_access_key_id = A\n\n[profile dev]\n# comment\nregion = eu-west-1\nendpoint_url=http://127.0.0.1:9000\n",
        )
        .unwrap();
        let dev = read_ini_section(&path, "profile dev").unwrap();
        assert_eq!(dev.get("region").map(String::as_str), Some("eu-west-1"));
        assert_eq!(
            dev.get("endpoint_url").map(String::as_str),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(read_ini_section(&path, "default").unwrap().len(), 1);
        assert!(read_ini_section(&path, "missing").is_none());
    }
}
