//! A small blocking client for the supervisor API.

use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::Value;

/// Talks to one supervisor's API.
#[derive(Clone)]
pub struct Client {
    base: String,
    key: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    /// A client for `base` (e.g. `http://127.0.0.1:48484`), with an API key.
    pub fn new(base: &str, key: Option<&str>) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .into();
        Client {
            base: base.trim_end_matches('/').to_string(),
            key: key.map(str::to_string),
            agent,
        }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Send a request; returns the status and the body as JSON (a JSON
    /// string when the body is not JSON).
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value)> {
        let url = format!("{}{path}", self.base);
        let mut req = http::Request::builder()
            .method(method)
            .uri(&url)
            .header("Content-Type", "application/json");
        if let Some(key) = &self.key {
            req = req.header("Authorization", format!("Bearer {key}"));
        }
        let req = req.body(body.map(Value::to_string).unwrap_or_default())?;
        let mut resp = self
            .agent
            .run(req)
            .with_context(|| format!("{method} {url}"))?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// GET, expecting 2xx.
    pub fn get(&self, path: &str) -> Result<Value> {
        let (status, body) = self.call("GET", path, None)?;
        anyhow::ensure!(
            (200..300).contains(&status),
            "GET {path}: HTTP {status}: {body}"
        );
        Ok(body)
    }

    /// POST, returning the status and body.
    pub fn post(&self, path: &str, body: &Value) -> Result<(u16, Value)> {
        self.call("POST", path, Some(body))
    }
}
