//! Fixture services in containers: the cell's fixture image, the static
//! `fixture-app` in it logging to stdout, the log read through the engine.

use anyhow::Result;
use fixture_app::log::Record;

use super::logs::LogCollector;
use crate::sut::services::{fixture_args, ServiceSpec, Services};

/// Where the fixture image keeps the fixture program.
pub const FIXTURE_IN_IMAGE: &str = "/usr/local/bin/fixture-app";

/// Fixture services from one image, observed by their container logs.
pub struct EngineServices {
    image: String,
    logs: LogCollector,
}

impl EngineServices {
    /// Services from `image` (the cell's tag of the fixture image), logs
    /// from `logs` (watching that image).
    pub fn new(image: &str, logs: LogCollector) -> EngineServices {
        EngineServices {
            image: image.to_string(),
            logs,
        }
    }
}

impl Services for EngineServices {
    fn spec(&self, _app: u32, _service: &str, generation: &str, args: &[String]) -> ServiceSpec {
        let mut command = vec![
            FIXTURE_IN_IMAGE.to_string(),
            "--log".to_string(),
            "-".to_string(),
        ];
        command.extend(fixture_args(generation, args));
        ServiceSpec {
            image: self.image.clone(),
            command,
        }
    }

    fn records(&self, app: u32, service: &str) -> Result<Vec<Record>> {
        self.logs.records(app, service)
    }
}
