//! `config check`: a service's configuration loaded by the service's own loader and
//! checks (built-in defaults < `APP_CONFIG_FILE` < `APP__...`, the `APP_ENV=production`
//! refusals included), then the parts its start-up builds from it, short of binding a
//! port or contacting anything: what it would start with (secrets masked), or its
//! refusal in its own words.

use std::process::ExitCode;

use clap::ValueEnum;
use serde_json::{Value, json};
use session_core::settings;

use crate::output;
use crate::settings_view::{self, Rows};

/// A service of the session store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Service {
    /// The auth-service.
    #[value(alias = "auth-service")]
    Auth,
    /// The resource-service.
    #[value(alias = "resource-service")]
    Resource,
}

impl Service {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Auth => "auth-service",
            Self::Resource => "resource-service",
        }
    }
}

/// Loads the service's configuration; prints it, or the refusal (exit status 1).
pub async fn run(service: Service, json: bool) -> anyhow::Result<ExitCode> {
    let checked = match service {
        Service::Auth => auth().await,
        Service::Resource => resource(),
    };
    let name = service.name();
    let environment =
        match settings::environment_is_production(std::env::var("APP_ENV").ok().as_deref()) {
            Ok(true) => "production",
            Ok(false) => "development",
            Err(_) => "unknown",
        };
    let file = std::env::var("APP_CONFIG_FILE").ok();
    let mut variables: Vec<String> = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|name| name.starts_with("APP__"))
        .collect();
    variables.sort();
    let rows = match checked {
        Ok(rows) => rows,
        Err(reason) => {
            output::say(&format!("the {name} would refuse to start: {reason}"));
            if json {
                let refusal = json!({
                    "service": name,
                    "starts": false,
                    "error": reason,
                    "environment": environment,
                    "configFile": file,
                    "environmentVariables": variables,
                });
                output::print(&format!("{}\n", serde_json::to_string_pretty(&refusal)?))?;
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    if json {
        let settings: serde_json::Map<String, Value> = rows.into_iter().collect();
        let report = json!({
            "service": name,
            "starts": true,
            "environment": environment,
            "configFile": file,
            "environmentVariables": variables,
            "settings": settings,
        });
        output::print(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
        return Ok(ExitCode::SUCCESS);
    }
    let from_environment = if variables.is_empty() {
        "nothing (APP__<SECTION>__<KEY>)".to_owned()
    } else {
        variables.join(", ")
    };
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|(key, value)| vec![key.clone(), settings_view::text(value)])
        .collect();
    output::print(&format!(
        "The {name} would start with these settings.\n  environment: {environment} (APP_ENV)\n  configuration file: {}\n  from the environment: {from_environment}\n\n{}",
        file.as_deref()
            .unwrap_or("none (APP_CONFIG_FILE or --file)"),
        output::table(&["KEY", "VALUE"], &rows)
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// The auth-service's `Settings::load`, then its composition root
/// (`startup::prepare`): every part built, nothing spawned or contacted.
async fn auth() -> Result<Rows, String> {
    let settings = auth_service::configuration::Settings::load().map_err(|e| e.to_string())?;
    auth_service::startup::prepare(&settings)
        .await
        .map_err(|e| e.to_string())?;
    settings_view::auth(&settings)
}

/// The resource-service's `Settings::load`, then its composition root
/// (`startup::prepare`): the validator of the configured mode built, not started.
fn resource() -> Result<Rows, String> {
    let settings = resource_service::configuration::Settings::load().map_err(|e| e.to_string())?;
    resource_service::startup::prepare(&settings).map_err(|e| e.to_string())?;
    settings_view::resource(&settings)
}
