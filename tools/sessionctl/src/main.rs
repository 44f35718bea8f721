//! sessionctl: the operator's command line for the session store.
//!
//! - `sessionctl sessions list|end`: a user's sessions, found by email (MongoDB, as the
//!   auth-service finds users) or by user id, listed or ended through session-core's
//!   store, which announces every end on the invalidation channel.
//! - `sessionctl keygen`: a new Ed25519 signing key, its public key and its JWK.
//! - `sessionctl config check`: what a service would start with, secrets masked, or
//!   the service's own refusal.
//!
//! Settings come from where the services read them, through their own loaders:
//! built-in defaults < `APP_CONFIG_FILE` (or `--file`) < `APP__<SECTION>__<KEY>`.
//!
//! # Layout
//! - [`sessions`]: `sessions list` and `sessions end`.
//! - [`keygen`]: the `keygen` command.
//! - [`config_check`]: `config check`.
//! - [`settings_view`]: a service's settings as rows of key and shown value (secrets
//!   masked by session-core's `masked`).
//! - [`output`]: plain-text tables; writing to stdout and stderr without panicking.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config_check::Service;

mod config_check;
mod events;
mod keygen;
mod output;
mod sessions;
mod settings_view;

/// The operator's command line for the session store.
#[derive(Debug, Parser)]
#[command(name = "sessionctl", version, about, long_about = None)]
#[command(
    after_help = "Settings are read as the services read them: built-in defaults, \
then the file named by --file or APP_CONFIG_FILE, then APP__<SECTION>__<KEY> variables \
(e.g. APP__REDIS__URL, APP__MONGODB__URI).\n\nExit status: 0 done, 1 failed or refused, \
2 wrong usage."
)]
pub struct Cli {
    /// A configuration file, read as the services read APP_CONFIG_FILE (APP__...
    /// variables still win over it).
    #[arg(long, global = true, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Print JSON for scripts instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List or end a user's sessions (reads the auth-service's configuration).
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Make an Ed25519 signing key (PKCS#8 PEM) with its public key and JWK.
    Keygen(KeygenArgs),
    /// Check a service's configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Read the session event stream (reads the auth-service's configuration).
    #[command(subcommand)]
    Events(EventsCommand),
}

#[derive(Debug, Subcommand)]
enum EventsCommand {
    /// Print events as they are appended, one JSON object a line.
    Tail(TailArgs),
}

#[derive(Debug, Args)]
struct TailArgs {
    /// Start with every event the stream still holds, not only new ones.
    #[arg(long)]
    from_start: bool,
    /// Stop after this many events.
    #[arg(long, value_name = "N")]
    count: Option<u64>,
}

#[derive(Debug, Subcommand)]
enum SessionsCommand {
    /// List the user's live sessions, newest first.
    List(UserArgs),
    /// End one session of the user (--session) or all of them (--all).
    End(EndArgs),
}

/// Whose sessions: by email (looked up in MongoDB) or by user id (Redis alone).
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
struct UserArgs {
    /// The user's email, normalised as the auth-service does at sign-up and login.
    #[arg(long, value_name = "EMAIL")]
    email: Option<String>,
    /// The user's id (24 hex characters); MongoDB is not asked.
    #[arg(long, value_name = "ID")]
    user_id: Option<String>,
}

#[derive(Debug, Args)]
struct EndArgs {
    #[command(flatten)]
    user: UserArgs,
    #[command(flatten)]
    which: WhichSessions,
}

/// Which of the user's sessions to end.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct WhichSessions {
    /// The session's id, as `sessions list` shows it.
    // A session id may begin with '-' (URL-safe base64).
    #[arg(long, value_name = "ID", allow_hyphen_values = true)]
    session: Option<String>,
    /// Every session of the user.
    #[arg(long)]
    all: bool,
}

#[derive(Debug, Args)]
struct KeygenArgs {
    /// The key id (`kid`): lowercase letters, digits, `-` and `_`; default: today's
    /// date and a random suffix.
    #[arg(long, value_name = "ID")]
    key_id: Option<String>,
    /// Write the private key to FILE (mode 0600; an existing file is never
    /// overwritten) instead of printing it.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Load a service's configuration as it would at start: print what it would start
    /// with (secrets masked), or its refusal (exit status 1).
    Check(CheckArgs),
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// The service whose configuration to load.
    #[arg(long, value_enum)]
    service: Service,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let reads_settings = !matches!(cli.command, Command::Keygen(_));
    if reads_settings && let Some(file) = &cli.file {
        // The services' loader reads the file from APP_CONFIG_FILE, and this process
        // may not change its own environment (no unsafe code): run again with it set.
        if std::env::var_os("APP_CONFIG_FILE").as_deref() != Some(file.as_os_str()) {
            return run_with_config_file(file.as_os_str().to_owned());
        }
    }
    // Logs (the store's warnings, for one) only when RUST_LOG asks for them.
    service_kit::telemetry::init("off");
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            output::say(&format!("could not start the async runtime: {err}"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(err) => {
            output::say(&format!("{err:#}"));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Sessions(SessionsCommand::List(user)) => {
            sessions::list(&sessions::Who::parse(user.email, user.user_id)?, cli.json).await?;
        }
        Command::Sessions(SessionsCommand::End(args)) => {
            // clap lets exactly one of --session and --all through.
            let which = match args.which.session {
                Some(id) => sessions::Which::One(id),
                None => sessions::Which::All,
            };
            let who = sessions::Who::parse(args.user.email, args.user.user_id)?;
            sessions::end(&who, &which, cli.json).await?;
        }
        Command::Keygen(args) => keygen::run(args.key_id, args.out.as_deref(), cli.json)?,
        Command::Events(EventsCommand::Tail(args)) => {
            events::tail(args.from_start, args.count).await?;
        }
        Command::Config(ConfigCommand::Check(args)) => {
            return config_check::run(args.service, cli.json).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs this program again with the same arguments and `APP_CONFIG_FILE` set to
/// `file`; its exit status is ours.
fn run_with_config_file(file: OsString) -> ExitCode {
    let status = std::env::current_exe().and_then(|exe| {
        std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env("APP_CONFIG_FILE", file)
            .status()
    });
    match status {
        Ok(status) => match status.code() {
            Some(0) => ExitCode::SUCCESS,
            Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
            None => ExitCode::FAILURE,
        },
        Err(err) => {
            output::say(&format!(
                "could not run again with APP_CONFIG_FILE set: {err}"
            ));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
