//! `yoi`: author, check, test and operate Yoi plugins.
//!
//! Exit codes: 0 success; 1 the operation was refused or failed (the message
//! says why and how to fix it), or a package has problems, or a test run had
//! a failing handler; 2 usage error.

mod ops;
mod plugin;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use yoi_host::HookPoint;

#[derive(Parser)]
#[command(
    name = "yoi",
    version,
    about = "Yoi plugin platform",
    propagate_version = true
)]
struct Cli {
    /// Registry folder. Default: $YOI_HOME, else the user's data folder (e.g. ~/.local/share/yoi).
    #[arg(long, global = true, value_name = "DIR")]
    registry: Option<PathBuf>,
    /// Who is acting, for the audit log. Default: $YOI_ACTOR, else $USER.
    #[arg(long, global = true)]
    actor: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Author and test plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Publish a package folder into the registry (state: published).
    Publish {
        /// The package folder, or its plugin.toml.
        #[arg(value_name = "DIR|FILE")]
        package: PathBuf,
    },
    /// Make a version the active one of its plugin.
    Activate {
        /// ID@VERSION, e.g. acme.guard@1.2.0.
        target: String,
        /// Which hosts: all, beta, canary or internal.
        #[arg(long, default_value = "all")]
        scope: String,
        /// Which share of subjects, 0-100.
        #[arg(long, default_value_t = 100)]
        rollout: u8,
    },
    /// Stop the active version; the plugin then has none.
    Deactivate {
        /// ID@VERSION.
        target: String,
    },
    /// Return to an earlier version; the active one becomes rolled_back.
    Rollback {
        /// ID@VERSION of the earlier version.
        target: String,
    },
    /// Grant (or with --deny, refuse) requested capabilities.
    Grant {
        /// Plugin id.
        plugin: String,
        /// Capabilities: https:HOST[:PORT], fs:PATH:ro|rw, secret:KEY, log.
        #[arg(required = true)]
        capabilities: Vec<String>,
        /// Record a refusal instead of a grant.
        #[arg(long)]
        deny: bool,
    },
    /// Remove grants or refusals.
    Revoke {
        /// Plugin id.
        plugin: String,
        /// Capabilities, as granted.
        #[arg(required = true)]
        capabilities: Vec<String>,
    },
    /// Allow a disabled plugin to be activated again.
    Enable {
        /// Plugin id.
        plugin: String,
    },
    /// Stop a plugin from being activated.
    Disable {
        /// Plugin id.
        plugin: String,
        /// Why, for the audit log.
        #[arg(long)]
        reason: String,
    },
    /// List plugins with their active version.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one plugin: versions, states, requested and granted capabilities.
    Show {
        /// Plugin id.
        plugin: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show the audit log and runtime events, oldest first.
    Audit {
        /// Only this plugin.
        plugin: Option<String>,
        /// Keep printing new entries until interrupted.
        #[arg(long)]
        follow: bool,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Wipe the registry (the audit log is kept). Needs --yes.
    Clear {
        /// Confirm.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Validate a package: manifest, digest, and the component against the
    /// contract. Runs no plugin code. Exit 0 when clean, 1 with problems.
    Check {
        /// The package folder, or its plugin.toml.
        #[arg(value_name = "DIR|FILE")]
        dir: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run one hook of a package in a local host with a payload and print the outcome.
    Test {
        /// The package folder (holding plugin.toml).
        dir: PathBuf,
        /// The hook point to run, e.g. tool.pre_exec.
        #[arg(long)]
        hook: HookPoint,
        /// The event as a JSON file, or `-` for standard input.
        #[arg(long)]
        payload: PathBuf,
        /// Print the dispatch result as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let ctx = ops::Ctx::new(cli.registry, cli.actor);
    let result = match cli.command {
        Command::Plugin(PluginCommand::Check { dir, json }) => plugin::check(&dir, json),
        Command::Plugin(PluginCommand::Test {
            dir,
            hook,
            payload,
            json,
        }) => plugin::test(&dir, hook, &payload, json),
        Command::Publish { package } => ctx.publish(&package),
        Command::Activate {
            target,
            scope,
            rollout,
        } => ctx.activate(&target, &scope, rollout),
        Command::Deactivate { target } => ctx.deactivate(&target),
        Command::Rollback { target } => ctx.rollback(&target),
        Command::Grant {
            plugin,
            capabilities,
            deny,
        } => ctx.grant(&plugin, &capabilities, !deny),
        Command::Revoke {
            plugin,
            capabilities,
        } => ctx.revoke(&plugin, &capabilities),
        Command::Enable { plugin } => ctx.enable(&plugin),
        Command::Disable { plugin, reason } => ctx.disable(&plugin, &reason),
        Command::List { json } => ctx.list(json),
        Command::Show { plugin, json } => ctx.show(&plugin, json),
        Command::Audit {
            plugin,
            follow,
            json,
        } => ctx.audit(plugin.as_deref(), follow, json),
        Command::Clear { yes } => ctx.clear(yes),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            match e.downcast_ref::<ops::UsageError>() {
                Some(_) => ExitCode::from(2),
                None => ExitCode::from(1),
            }
        }
    }
}

/// Plugin log lines are printed by the commands themselves; `YOI_LOG`
/// (a tracing filter, e.g. `debug`) shows more.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("YOI_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,yoi::plugin=off"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
