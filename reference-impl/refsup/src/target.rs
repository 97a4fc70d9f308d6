//! The target state (local mode) of SPEC section 4: its JSON shape and the
//! validation that keeps hostile input from ever naming a path outside root.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The whole body of `POST /v2/local/target-state`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetState {
    /// The local-mode device state.
    pub local: LocalState,
}

/// Device name, config vars and apps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LocalState {
    /// Device name.
    #[serde(default)]
    pub name: String,
    /// Config vars (`BALENA_HOST_CONFIG_*` need a reboot; override vars live here).
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Apps by app id (decimal string keys, as the real API sends them).
    #[serde(default)]
    pub apps: BTreeMap<String, App>,
}

/// One app at one release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct App {
    /// App name.
    #[serde(default)]
    pub name: String,
    /// Release commit; a release changes when this changes.
    pub commit: String,
    /// Release id.
    #[serde(rename = "releaseId", default)]
    pub release_id: u64,
    /// Services by name.
    #[serde(default)]
    pub services: BTreeMap<String, Service>,
}

/// One service of a release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Service {
    /// Image (a local image for Docker; a label for the process runtime).
    pub image: String,
    /// argv to run.
    #[serde(default)]
    pub command: Vec<String>,
    /// Environment variables.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Labels, e.g. `io.balena.update.strategy`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Numeric uid to run as.
    #[serde(default)]
    pub user: Option<String>,
}

/// The label choosing an update strategy.
pub const STRATEGY_LABEL: &str = "io.balena.update.strategy";

/// How a service is replaced by its next release (U3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Strategy {
    /// Download the new image, then take locks, kill, start (default).
    DownloadThenKill,
    /// Take locks, kill, then download and start.
    KillThenDownload,
    /// Take locks, kill, delete the old image, then download and start.
    DeleteThenDownload,
    /// Download, take locks, start the new one beside the old, then kill the old.
    HandOver,
}

impl Strategy {
    /// Parse a label value.
    pub fn parse(value: &str) -> Option<Strategy> {
        Some(match value {
            "download-then-kill" => Strategy::DownloadThenKill,
            "kill-then-download" => Strategy::KillThenDownload,
            "delete-then-download" => Strategy::DeleteThenDownload,
            "hand-over" => Strategy::HandOver,
            _ => return None,
        })
    }

    /// Whether the new image is downloaded before the old service is killed.
    pub fn downloads_first(self) -> bool {
        matches!(self, Strategy::DownloadThenKill | Strategy::HandOver)
    }
}

impl Service {
    /// The service's update strategy (validated at accept time).
    pub fn strategy(&self) -> Strategy {
        self.labels
            .get(STRATEGY_LABEL)
            .and_then(|v| Strategy::parse(v))
            .unwrap_or(Strategy::DownloadThenKill)
    }

    /// The numeric uid to run as (validated at accept time).
    pub fn uid(&self) -> Option<u32> {
        self.user.as_deref().and_then(|u| u.parse().ok())
    }
}

/// Largest accepted app id or service name, in bytes.
pub const MAX_NAME: usize = 255;

/// Check a name that becomes a path component: 1..=255 bytes, no `/`, no NUL,
/// not `.`/`..` and no `..` anywhere, only `[A-Za-z0-9_.-]`, starting with an
/// alphanumeric.
pub fn validate_component(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if name.len() > MAX_NAME {
        return Err(format!(
            "{what} is {} bytes long (at most {MAX_NAME})",
            name.len()
        ));
    }
    if name.contains('\0') || name.contains('/') || name.contains("..") {
        return Err(format!("{what} {name:?} contains '/', '..' or NUL"));
    }
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_ok
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    {
        return Err(format!(
            "{what} {name:?} must start with a letter or digit and use only letters, digits, '_', '.', '-'"
        ));
    }
    Ok(())
}

/// Longest service name: the service's log file is `<appId>-<service>.log`
/// and its container id `<appId>_<service>_<seq>`, which must fit a file name.
pub const MAX_SERVICE_NAME: usize = 200;

/// A config var must fit on one `name=value` line of config.txt (or one
/// key of config.json): no line breaks or NUL anywhere, and no `=`, `[`, `]`
/// or spaces in the name, so a var can never add a line or a `[section]`.
pub fn validate_config_var(key: &str, value: &str) -> Result<(), String> {
    let shown = truncate(key);
    if key.is_empty() || key.len() > MAX_NAME {
        return Err(format!(
            "config var name {shown:?} must be 1-{MAX_NAME} bytes"
        ));
    }
    if let Some(c) = key
        .chars()
        .find(|c| c.is_control() || c.is_whitespace() || "=[]".contains(*c))
    {
        return Err(format!(
            "config var name {shown:?} contains {c:?} (names may not hold '=', '[', ']', spaces or control characters)"
        ));
    }
    if value.len() > 4096 {
        return Err(format!(
            "config var {shown}: value is longer than 4096 bytes"
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| *c == '\n' || *c == '\r' || *c == '\0')
    {
        return Err(format!(
            "config var {shown}: value contains {c:?} (a value must stay on one line)"
        ));
    }
    Ok(())
}

/// Parse an app id: a decimal number that fits in 32 bits.
pub fn parse_app_id(text: &str) -> Result<u32, String> {
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "app id {:?} is not a decimal number",
            truncate(text)
        ));
    }
    if text.len() > 1 && text.starts_with('0') {
        return Err(format!(
            "app id {text} has leading zeros (write it as a plain number)"
        ));
    }
    text.parse::<u32>()
        .map_err(|_| format!("app id {text} does not fit in 32 bits"))
}

fn truncate(text: &str) -> String {
    text.chars().take(64).collect()
}

impl TargetState {
    /// Reject everything a supervisor must not act on: bad ids and names,
    /// unknown strategies, non-numeric users, empty commands or images.
    pub fn validate(&self) -> Result<(), String> {
        for (key, value) in &self.local.config {
            validate_config_var(key, value)?;
        }
        for (id, app) in &self.local.apps {
            parse_app_id(id)?;
            if app.commit.is_empty()
                || app.commit.len() > MAX_NAME
                || !app
                    .commit
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(format!(
                    "app {id}: commit {:?} must be 1-255 letters, digits, '-' or '_'",
                    truncate(&app.commit)
                ));
            }
            for (name, service) in &app.services {
                validate_component(&format!("app {id}: service name"), name)?;
                if name.len() > MAX_SERVICE_NAME {
                    return Err(format!(
                        "app {id}: service name is {} bytes long (at most {MAX_SERVICE_NAME})",
                        name.len()
                    ));
                }
                let at = format!("app {id} service {name}");
                if service.image.is_empty() || service.image.len() > 1024 {
                    return Err(format!("{at}: image must be 1-1024 bytes"));
                }
                if service.command.first().is_none_or(|a| a.is_empty()) {
                    return Err(format!(
                        "{at}: command is empty (the process runtime needs a program to run)"
                    ));
                }
                if service.command.iter().any(|a| a.contains('\0')) {
                    return Err(format!("{at}: command contains NUL"));
                }
                for (k, v) in &service.environment {
                    if k.is_empty() || k.contains('=') || k.contains('\0') || v.contains('\0') {
                        return Err(format!(
                            "{at}: environment variable {:?} is invalid",
                            truncate(k)
                        ));
                    }
                }
                if let Some(value) = service.labels.get(STRATEGY_LABEL) {
                    if Strategy::parse(value).is_none() {
                        return Err(format!(
                            "{at}: unknown update strategy {:?} (download-then-kill, kill-then-download, delete-then-download, hand-over)",
                            truncate(value)
                        ));
                    }
                }
                if let Some(user) = &service.user {
                    if user.parse::<u32>().is_err() {
                        return Err(format!(
                            "{at}: user {:?} must be a numeric uid",
                            truncate(user)
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Apps with their parsed ids (valid states only).
    pub fn apps(&self) -> impl Iterator<Item = (u32, &App)> {
        self.local
            .apps
            .iter()
            .filter_map(|(id, app)| parse_app_id(id).ok().map(|id| (id, app)))
    }

    /// One app by id.
    pub fn app(&self, app_id: u32) -> Option<&App> {
        self.local.apps.get(&app_id.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components() {
        assert!(validate_component("s", "main").is_ok());
        assert!(validate_component("s", "a.b-c_d").is_ok());
        for bad in ["", ".", "..", "a/b", "a..b", "-x", "a\0b", &"x".repeat(256)] {
            assert!(validate_component("s", bad).is_err(), "{bad:?}");
        }
        assert!(validate_component("s", &"x".repeat(255)).is_ok());
    }

    #[test]
    fn app_ids() {
        assert_eq!(parse_app_id("1"), Ok(1));
        for bad in [
            "",
            "-1",
            "1a",
            "../1",
            "99999999999",
            "4294967296",
            "01",
            "00",
        ] {
            assert!(parse_app_id(bad).is_err(), "{bad}");
        }
    }
}
