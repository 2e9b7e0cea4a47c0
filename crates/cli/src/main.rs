//! `yoi`: author, check, test and operate Yoi plugins.
//!
//! Exit codes: 0 success; 1 the operation was refused or failed (the message
//! says why and how to fix it), or a package has problems, or a test run had
//! a failing handler; 2 usage error.

#[macro_use]
mod terminal;
mod tokens;

mod admission;
mod agent_cli;
mod config;
mod ctx;
mod dev;
mod distribution;
mod doctor;
mod fleet;
mod hook_settings;
mod lang;
mod lifecycle;
mod listener;
mod mcp;
mod mcp_servers;
mod new;
mod oci;
mod pack;
mod plugin;
mod preview;
mod push;
mod refusals;
mod serve;
mod services;
mod upgrade;
mod usage;

use std::path::{Path, PathBuf};
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
    /// Registry: a folder, or a PostgreSQL database shared by a fleet
    /// (postgres://USER@HOST[:PORT]/DB, docs/fleet.md). Default:
    /// $YOI_REGISTRY, else $YOI_HOME, else the user's data folder (e.g.
    /// ~/.local/share/yoi).
    #[arg(long, global = true, value_name = "DIR|URL")]
    registry: Option<String>,
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
    /// Plugins' settings: set, unset, show (docs/configuration.md).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Publish a package into the registry (state: published): a file or
    /// folder, or a package pulled from an OCI registry
    /// (docs/distribution.md). A signature it carries is checked against
    /// the trust policy.
    Publish {
        /// A `.yoi` file from `yoi plugin pack`, a package folder, its
        /// plugin.toml, or oci://REGISTRY/REPO:TAG (or @sha256:DIGEST).
        #[arg(value_name = "FILE.yoi|DIR|oci://…")]
        package: PathBuf,
        #[command(flatten)]
        oci: OciArgs,
        /// A host an OCI registry may redirect downloads to (a storage
        /// host); other hosts are refused. Repeatable.
        #[arg(long, value_name = "HOST")]
        allow_redirect: Vec<String>,
    },
    /// Make an ed25519 key pair in the current folder: NAME.key (private,
    /// mode 0600) and NAME.pub, for `yoi sign` and `yoi trust add`.
    Keygen {
        /// The pair's name.
        name: String,
    },
    /// Sign a package (folder or .yoi) with a key: the signature
    /// (a Sigstore bundle over plugin.toml and the artifact) travels with
    /// it, in plugin.sigstore.json and in OCI registries.
    Sign {
        /// A `.yoi` file or a package folder.
        #[arg(value_name = "FILE.yoi|DIR")]
        package: PathBuf,
        /// The private key from `yoi keygen`.
        #[arg(long, value_name = "NAME.key")]
        key: PathBuf,
        /// Make the signature expire after this many days.
        #[arg(long, value_name = "DAYS")]
        expires_in: Option<u64>,
    },
    /// Push a package (and its signature) to an OCI registry as a Wasm
    /// OCI artifact.
    Push {
        /// A `.yoi` file or a package folder.
        #[arg(value_name = "FILE.yoi|DIR")]
        package: PathBuf,
        /// oci://REGISTRY/REPO:TAG.
        reference: String,
        #[command(flatten)]
        oci: OciArgs,
    },
    /// Newer tags of active plugins published from OCI registries, with
    /// what each changes.
    Outdated {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        oci: OciArgs,
    },
    /// The trust policy: keys trusted to sign plugins, and the scopes that
    /// require a trusted signature (docs/distribution.md).
    #[command(subcommand)]
    Trust(TrustCommand),
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
    /// Show what activating VERSION changes against the active version
    /// (capabilities with today's decisions, hooks, tools, services,
    /// settings), then decide on what it adds and activate it with the
    /// active version's scope and rollout. Asks, or takes --yes.
    Upgrade {
        /// Plugin id (or ID@VERSION).
        plugin: String,
        /// The candidate version.
        #[arg(value_name = "VERSION")]
        candidate: Option<String>,
        /// Confirm without asking.
        #[arg(long)]
        yes: bool,
        /// Grant every capability the candidate adds that nobody decided on.
        #[arg(long, conflicts_with = "deny_added")]
        grant_added: bool,
        /// Deny every capability the candidate adds that nobody decided on
        /// (it runs without them).
        #[arg(long)]
        deny_added: bool,
        /// Print the plan as JSON and change nothing.
        #[arg(long)]
        json: bool,
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
        /// Capabilities: https:HOST[:PORT], fs:PATH:ro|rw, secret:KEY, websocket:HOST[:PORT], route:/PATH.
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
    /// The whole registry at one instant: versions, active versions, grants,
    /// disabled plugins, one page of the audit log, the change counter.
    Snapshot {
        /// Audit records after this id (a page's `audits_next`; 0 for the
        /// start); without it, the newest.
        #[arg(long, value_name = "ID")]
        after: Option<i64>,
        /// Runtime events after this id (a page's `events_next`); without
        /// it, the newest.
        #[arg(long, value_name = "ID")]
        events_after: Option<i64>,
        /// Most records of each log (at most 1000).
        #[arg(long, default_value_t = serve::page_size())]
        limit: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Hosts following the registry: name, scope, when each last reported,
    /// whether it has caught up with the latest change, and the versions
    /// it runs (docs/fleet.md).
    Hosts {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a version that is not active, or with --all every version of a
    /// plugin (none active) with its grants. Artifacts no version refers to
    /// are deleted.
    Remove {
        /// ID@VERSION, or ID with --all.
        target: String,
        /// Remove every version of the plugin.
        #[arg(long)]
        all: bool,
    },
    /// Delete runtime events older than an age, and stored artifacts no
    /// version refers to.
    Prune {
        /// Age of the oldest events kept, e.g. 30d, 12h (default: keep all).
        #[arg(long, value_name = "DURATION")]
        events_older_than: Option<String>,
        /// Also forget hosts that have not reported for this long, e.g. 7d
        /// (`yoi hosts` lists them as silent).
        #[arg(long, value_name = "DURATION")]
        hosts_silent_for: Option<String>,
    },
    /// Check the registry without running any plugin: database integrity,
    /// artifacts, active versions against this build, grants against
    /// requests, disabled plugins, events, optionally a compile cache. Exit
    /// 0 when healthy, 1 with problems.
    Doctor {
        /// Also check a host's compile cache folder.
        #[arg(long, value_name = "DIR")]
        compile_cache: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Serve the registry over HTTP: snapshot, operations, package uploads,
    /// a stream of changes, and the operator's page. Every API request
    /// needs a token from the registry's serve-tokens file (created on
    /// first start, owner-only); the page and its assets are public and
    /// ask for a token to sign in. Limits: docs/serve.md.
    Serve {
        /// Address to listen on (loopback by default; port 0 picks one).
        #[arg(long, default_value = "127.0.0.1:7878")]
        listen: std::net::SocketAddr,
        /// A folder JSON package uploads may name artifacts in by file://
        /// URL (links followed, never outside it). Repeatable; without it
        /// file:// artifacts are refused.
        #[arg(long, value_name = "DIR")]
        files_from: Vec<PathBuf>,
        /// A host name (or name:port) clients may reach the server by,
        /// besides the listen address (and `localhost` on loopback).
        /// Repeatable. Requests naming another `Host` are refused with 421,
        /// which stops DNS rebinding; on a non-loopback address without
        /// this option any `Host` is accepted.
        #[arg(long = "allow-host", value_name = "NAME")]
        allow_hosts: Vec<String>,
        /// Connections open at once; over it a client is answered 503 with
        /// Retry-After and disconnected.
        #[arg(long, default_value_t = 512, value_name = "N")]
        max_connections: usize,
        /// Connections open at once from one address.
        #[arg(long, default_value_t = 64, value_name = "N")]
        max_connections_per_peer: usize,
        /// Time for a request's head to arrive (and for an idle connection
        /// to send its next request) before the connection is closed.
        #[arg(long, default_value = "10s", value_parser = humantime::parse_duration, value_name = "DURATION")]
        header_timeout: std::time::Duration,
        /// Time for a request's body to arrive before it is answered 408.
        #[arg(long, default_value = "60s", value_parser = humantime::parse_duration, value_name = "DURATION")]
        body_timeout: std::time::Duration,
        /// Writes refused for want of a valid token: each address's first
        /// in this window is recorded on its own (at most 20 a window), the
        /// rest counted and recorded as one summary when it ends.
        #[arg(long, default_value = "60s", value_parser = humantime::parse_duration, value_name = "DURATION")]
        refusal_window: std::time::Duration,
    },
    /// Run a local host over plugin folders, with the grants and limits of
    /// yoi.toml: load them, watch them and reload what changes (a broken
    /// package keeps its previous version running), and answer test calls
    /// typed on stdin (`help` lists them). No registry is used.
    Dev {
        /// Package folders, or folders of packages, besides yoi.toml's
        /// `[plugins] folders` (default: the current folder).
        dirs: Vec<PathBuf>,
        /// The host configuration file (default: ./yoi.toml if there is
        /// one; without one, nothing is granted).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Print one JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Run one host of a fleet: follow the registry (load what is active
    /// for this host's scope, reload within a second of every change),
    /// report to it (`yoi hosts`), and answer test calls typed on stdin
    /// (`help` lists them) (docs/fleet.md).
    Host {
        /// This host's name in the fleet. Default: $YOI_HOST_NAME, else the
        /// machine's hostname.
        #[arg(long)]
        name: Option<String>,
        /// Which rollouts apply here: all, beta, canary or internal.
        #[arg(long, default_value = "all")]
        scope: String,
        /// A host configuration file (limits, data and cache folders, the
        /// capability list); grants come from the registry.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// How often to check for changes a push may have missed, in ms.
        #[arg(long, default_value_t = 1000)]
        poll_ms: u64,
        /// Print one JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Serve the host's tools to MCP clients (Claude Code, Codex, any MCP
    /// client): over stdio by default, or Streamable HTTP on `/mcp` with
    /// --http. Plugins come from the registry (followed like `yoi host`),
    /// or from plugin folders when DIRs are named (like `yoi dev`). Every
    /// call runs through the tool hooks (docs/mcp.md).
    Mcp {
        /// Package folders, or folders of packages, served with yoi.toml's
        /// grants instead of the registry's active versions.
        dirs: Vec<PathBuf>,
        /// A host configuration file (limits, data and cache folders, the
        /// capability list; with DIRs, the grants too). With DIRs and no
        /// --config, ./yoi.toml if there is one.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Which rollouts apply (registry): all, beta, canary or internal.
        #[arg(long, default_value = "all")]
        scope: String,
        /// How often to check the registry for changes a push may have
        /// missed, in ms.
        #[arg(long, default_value_t = 1000)]
        poll_ms: u64,
        /// Serve Streamable HTTP on this address (loopback, e.g.
        /// 127.0.0.1:7879; port 0 picks one) instead of stdio.
        #[arg(long, value_name = "ADDR")]
        http: Option<std::net::SocketAddr>,
        /// The rollout subject of calls that name none (`_meta`
        /// `dev.yoi/subject`, or over HTTP the `Yoi-Subject` header or the
        /// token's actor).
        #[arg(long)]
        subject: Option<String>,
        /// HTTP tokens (`rw|ro ACTOR TOKEN` lines) instead of the registry
        /// folder's serve-tokens.
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
        /// Serve HTTP without tokens: loopback only, for local tools and
        /// test suites that cannot send one.
        #[arg(long)]
        no_token: bool,
        /// A browser origin (scheme://host:port) allowed to call over HTTP.
        /// Repeatable; any other `Origin` is refused with 403.
        #[arg(long = "allow-origin", value_name = "ORIGIN")]
        allow_origins: Vec<String>,
        /// A host name (or name:port) clients may reach the HTTP server by,
        /// besides the listen address (and `localhost` on loopback).
        #[arg(long = "allow-host", value_name = "NAME")]
        allow_hosts: Vec<String>,
        /// The largest message a client may send, in bytes (stdio lines and
        /// HTTP bodies alike).
        #[arg(long, default_value_t = 4 * 1024 * 1024, value_name = "BYTES")]
        max_message_bytes: usize,
        /// HTTP connections open at once.
        #[arg(long, default_value_t = 512, value_name = "N")]
        max_connections: usize,
        /// HTTP connections open at once from one address.
        #[arg(long, default_value_t = 64, value_name = "N")]
        max_connections_per_peer: usize,
    },
    /// Plugin services as hosts last recorded them: state, queue, counts,
    /// restarts, last error (docs/services.md).
    #[command(subcommand)]
    Service(ServiceCommand),
    /// Remote MCP servers whose pinned tools hosts serve as NAME.tool,
    /// through the hook chain (docs/mcp.md, "Yoi as a gateway").
    #[command(subcommand, name = "mcp-server")]
    McpServer(McpServerCommand),
    /// Answer an agent CLI's hook event with Yoi's hook chain: the event as
    /// JSON on stdin, the CLI's answer on stdout (docs/agent-clis.md).
    #[command(subcommand)]
    Hook(HookCommand),
    /// Wipe the registry (the audit log is kept). Needs --yes.
    Clear {
        /// Confirm.
        #[arg(long)]
        yes: bool,
    },
}

/// Credentials for an OCI registry; the user's Docker config when absent.
#[derive(clap::Args)]
struct OciArgs {
    /// A registry user name (with --password-secret).
    #[arg(long, requires = "password_secret")]
    username: Option<String>,
    /// The secret holding the password: it is read from YOI_SECRET_KEY,
    /// never from the command line.
    #[arg(long, value_name = "KEY", requires = "username")]
    password_secret: Option<String>,
}

impl OciArgs {
    fn credentials(self) -> oci::Credentials {
        oci::Credentials {
            username: self.username,
            password_secret: self.password_secret,
        }
    }
}

#[derive(Subcommand)]
enum TrustCommand {
    /// Trust a public key (NAME.pub from `yoi keygen`) to sign plugins.
    Add {
        /// The key's name here.
        name: String,
        /// The public key file.
        #[arg(value_name = "PUBKEY")]
        public_key: PathBuf,
        /// Where its signatures count: all, beta, canary or internal.
        #[arg(long, default_value = "all")]
        scope: String,
        /// The plugin ids it may sign: ids or prefixes ending in `*`,
        /// comma-separated (default: every plugin).
        #[arg(long, value_delimiter = ',', value_name = "PATTERN")]
        plugins: Vec<String>,
    },
    /// Stop trusting a key.
    Remove {
        /// The key's name.
        name: String,
    },
    /// Trusted keys, the scopes that require signatures, and who signed
    /// each active version.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Require a trusted signature in a scope (all: every scope, and
    /// publish), or with --off stop requiring it.
    Require {
        /// all, beta, canary or internal.
        #[arg(long, default_value = "all")]
        scope: String,
        /// Stop requiring it.
        #[arg(long)]
        off: bool,
    },
}

#[derive(Subcommand)]
enum HookCommand {
    /// One Claude Code hook event (PreToolUse, PostToolUse,
    /// UserPromptSubmit, Stop, PreCompact, PostCompact, SessionStart,
    /// SessionEnd).
    ClaudeCode(HookSource),
    /// One Codex hook event (the same events as Claude Code's).
    Codex(HookSource),
    /// Add `yoi hook` to an agent CLI's hook settings, beside the hooks
    /// already there.
    Install(HookSettings),
    /// Take out what `yoi hook install` added, leaving the file as it was.
    Uninstall(HookSettings),
}

#[derive(clap::Args)]
struct HookSource {
    /// Plugin folders to run (with yoi.toml's grants); none: the
    /// registry's active plugins.
    dirs: Vec<PathBuf>,
    /// A host configuration file (limits, the capability list; with
    /// folders, grants too).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(clap::Args)]
struct HookSettings {
    /// The agent CLI.
    #[arg(long = "for", value_name = "CLI")]
    cli: agent_cli::Cli,
    /// This project's settings (.claude/settings.json, .codex/hooks.json
    /// in the current folder).
    #[arg(long, conflicts_with = "user")]
    project: bool,
    /// Your own settings (~/.claude/settings.json, ~/.codex/hooks.json);
    /// the default.
    #[arg(long)]
    user: bool,
    /// Print the change and write nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Subcommand)]
enum McpServerCommand {
    /// Declare a server: fetch its tool list and pin it. Streamable HTTP:
    /// an https:// URL, or http:// to a loopback address. With --stdio, a
    /// local program and its arguments (it runs outside every sandbox; a
    /// host starts it only when its yoi.toml names it).
    Add {
        /// The server's name; its tools are NAME.tool (a plugin id).
        name: String,
        /// The endpoint URL, or with --stdio the program.
        target: String,
        /// The program's arguments (--stdio).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
        /// A local process speaking MCP on stdin and stdout.
        #[arg(long)]
        stdio: bool,
        /// The name of the server's bearer token; its value is read from
        /// $YOI_SECRET_<KEY>, sealed in the registry, never shown again.
        #[arg(long, value_name = "KEY")]
        token_secret: Option<String>,
        /// How long fetching the tool list may take, in ms.
        #[arg(long, default_value_t = 30_000)]
        timeout_ms: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Forget a server: hosts stop serving its tools.
    Remove {
        /// The server's name.
        name: String,
    },
    /// Every declared server.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One server: its endpoint, pinned tools, and any change waiting.
    Show {
        /// The server's name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Fetch the live tool list; a change is recorded, printed, and held
    /// until approved.
    Refresh {
        /// The server's name.
        name: String,
        /// How long fetching the tool list may take, in ms.
        #[arg(long, default_value_t = 30_000)]
        timeout_ms: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Pin the changed list waiting for approval, so hosts serve it.
    Approve {
        /// The server's name.
        name: String,
        /// The digest of the list you saw (`refresh` and `show` print it):
        /// refused if the list changed again since.
        #[arg(long)]
        digest: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ServiceCommand {
    /// Every recorded service, one line each.
    List {
        /// Only this plugin's.
        plugin: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One service in full, with its last error.
    Show {
        /// PLUGIN/SERVICE, e.g. example.chat-bridge/gateway.
        target: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Set a setting's value. The value must fit the setting in the
    /// plugin's active version (else its newest): text for a `string`
    /// setting, JSON for the others. A secret's value is sealed at rest and
    /// never shown again: give it with `--from-file` or on standard input
    /// (`-`), not as an argument, which `ps` and shell history keep.
    Set {
        /// Plugin id.
        plugin: String,
        /// The setting's name (`yoi config show ID` lists them).
        key: String,
        /// The value; `-` reads it from standard input (one trailing
        /// newline dropped).
        #[arg(required_unless_present = "from_file", conflicts_with = "from_file")]
        value: Option<String>,
        /// Read the value from this file (one trailing newline dropped).
        #[arg(long, value_name = "FILE")]
        from_file: Option<PathBuf>,
        /// Which hosts: all, beta, canary or internal (a scope's value wins
        /// over `all`'s on its hosts).
        #[arg(long, default_value = "all")]
        scope: String,
    },
    /// Remove a setting's value for a scope (the plugin then runs with the
    /// value for `all`, or the default).
    Unset {
        /// Plugin id.
        plugin: String,
        /// The setting's name.
        key: String,
        /// Which hosts.
        #[arg(long, default_value = "all")]
        scope: String,
    },
    /// A plugin's settings and the values set, by scope (secrets masked).
    Show {
        /// Plugin id.
        plugin: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Seal every secret value again with a new key and drop the old one.
    RotateKey,
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Create a plugin crate that builds and packs as generated.
    New {
        /// The plugin id, e.g. acme.redact; also the folder's name.
        name: String,
        /// A hook point to handle (repeatable), e.g. tool.pre_exec.
        #[arg(long)]
        hook: Vec<HookPoint>,
        /// A tool to offer (repeatable), e.g. lookup.
        #[arg(long)]
        tool: Vec<String>,
        /// A model provider to serve, by name (docs/providers.md), e.g. chat.
        #[arg(long, value_name = "NAME")]
        provider: Option<String>,
        /// Make it an observer of the host (docs/observers.md).
        #[arg(long)]
        observer: bool,
        /// A service to run, by name (docs/services.md), e.g. bridge.
        #[arg(long, value_name = "NAME")]
        service: Option<String>,
        /// Where to create it (default: ./NAME).
        #[arg(long, value_name = "DIR")]
        path: Option<PathBuf>,
        /// The language: rust (a crate), python (app.py) or js (app.js).
        #[arg(long, value_name = "LANG", default_value = "rust")]
        lang: yoi_manifest::Language,
    },
    /// Build the component, write its digest into plugin.toml, check
    /// everything, and write NAME-VERSION.yoi. Rust crates build with cargo
    /// (wasm32-wasip2, release); Python and JavaScript plugins with
    /// componentize-py and componentize-js, installed on first use.
    Pack {
        /// The plugin folder (holding plugin.toml and the source). Default: the current folder.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Validate a package as a host loads it: manifest, digest, the
    /// component against the contract and the code limits (E0411), then
    /// compiled (in a child process, within the compile time limit; cached)
    /// and linked against the host's APIs and WASI, import types included.
    /// Never runs it. `yoi publish` and `yoi plugin pack` check the same.
    /// Exit 0 when clean, 1 with problems.
    Check {
        /// The package folder, or its plugin.toml.
        #[arg(value_name = "DIR|FILE")]
        dir: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run one hook or tool of a package in a local host and print the
    /// outcome, receipts and log lines. Compiles the component first (within
    /// the host's compile limits). The plugin gets every capability it
    /// requests; its files go to a temporary data root unless --data is given.
    #[command(group(clap::ArgGroup::new("what").required(true).args(["hook", "tool"])))]
    Test {
        /// The package folder (holding plugin.toml). Default: the current folder.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The hook point to run, e.g. tool.pre_exec.
        #[arg(long, requires = "payload")]
        hook: Option<HookPoint>,
        /// The hook's event as a JSON file, or `-` for standard input.
        #[arg(long, value_name = "FILE|-")]
        payload: Option<PathBuf>,
        /// The tool to call, by its name in plugin.toml (e.g. forecast).
        #[arg(long, requires = "input")]
        tool: Option<String>,
        /// The tool's input as a JSON file, or `-` for standard input.
        #[arg(long, value_name = "FILE|-")]
        input: Option<PathBuf>,
        /// A secret for the plugin, KEY=VALUE (repeatable). Otherwise granted
        /// secrets are read from $YOI_SECRET_<KEY>. Prefer --secret-file or
        /// the variable: arguments are visible in `ps` and shell history.
        #[arg(long, value_name = "KEY=VALUE")]
        secret: Vec<String>,
        /// A secret for the plugin read from a file, KEY=FILE (repeatable;
        /// one trailing newline dropped).
        #[arg(long, value_name = "KEY=FILE")]
        secret_file: Vec<String>,
        /// A setting's value, KEY=VALUE (repeatable): text for a `string`
        /// setting, JSON for the others. Unset ones take their defaults.
        #[arg(long, value_name = "KEY=VALUE")]
        config: Vec<String>,
        /// Setting values from a file: a JSON object, or TOML for `.toml`
        /// (`--config` wins over it).
        #[arg(long, value_name = "FILE")]
        config_file: Option<PathBuf>,
        /// Keep the plugin's data root in this folder (default: a temporary one).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    // A host's compile worker: before anything else, with no output but
    // the compiled code.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == plugin::COMPILE_WORKER)
    {
        return yoi_host::compile_worker_main();
    }
    let cli = Cli::parse();
    init_tracing();
    let ctx = ctx::Ctx::new(cli.registry, cli.actor);
    let result = match cli.command {
        Command::Plugin(PluginCommand::Check { dir, json }) => plugin::check(&dir, json),
        Command::Plugin(PluginCommand::New {
            name,
            hook,
            tool,
            provider,
            observer,
            service,
            path,
            lang,
        }) => new::new(
            &name,
            &new::Parts {
                hooks: hook,
                tools: tool,
                provider,
                observer,
                service,
                language: lang,
            },
            path.as_deref(),
        ),
        Command::Plugin(PluginCommand::Pack { dir }) => pack::pack(&dir),
        Command::Plugin(PluginCommand::Test {
            dir,
            hook,
            payload,
            tool,
            input,
            secret,
            secret_file,
            config,
            config_file,
            data,
            json,
        }) => config::with_secret_files(secret, &secret_file).and_then(|secret| {
            let config = plugin::TestConfig {
                pairs: &config,
                file: config_file.as_deref(),
            };
            match (hook, payload, tool, input) {
                (Some(hook), Some(payload), _, _) => plugin::test(
                    &dir,
                    plugin::Run::Hook(hook, payload),
                    &secret,
                    &config,
                    data,
                    json,
                ),
                (_, _, Some(tool), Some(input)) => plugin::test(
                    &dir,
                    plugin::Run::Tool(tool, input),
                    &secret,
                    &config,
                    data,
                    json,
                ),
                _ => Err(usage::UsageError(
                    "give --hook POINT --payload FILE, or --tool NAME --input FILE".into(),
                )
                .into()),
            }
        }),
        Command::Publish {
            package,
            oci: args,
            allow_redirect,
        } => match package.to_str().filter(|p| oci::is_reference(p)) {
            Some(reference) => ctx.publish_oci(reference, &args.credentials(), &allow_redirect),
            None => ctx.publish(&package),
        },
        Command::Keygen { name } => distribution::keygen(&name),
        Command::Sign {
            package,
            key,
            expires_in,
        } => distribution::sign(&package, &key, expires_in),
        Command::Push {
            package,
            reference,
            oci: args,
        } => distribution::push(&package, &reference, &args.credentials()),
        Command::Outdated { json, oci: args } => ctx.outdated(json, &args.credentials()),
        Command::Trust(TrustCommand::Add {
            name,
            public_key,
            scope,
            plugins,
        }) => ctx.trust_add(&name, &public_key, &scope, &plugins),
        Command::Trust(TrustCommand::Remove { name }) => ctx.trust_remove(&name),
        Command::Trust(TrustCommand::List { json }) => ctx.trust_list(json),
        Command::Trust(TrustCommand::Require { scope, off }) => ctx.trust_require(&scope, off),
        Command::Activate {
            target,
            scope,
            rollout,
        } => ctx.activate(&target, &scope, rollout),
        Command::Upgrade {
            plugin,
            candidate,
            yes,
            grant_added,
            deny_added,
            json,
        } => {
            let undecided = match (grant_added, deny_added) {
                (true, _) => upgrade::Undecided::Grant,
                (_, true) => upgrade::Undecided::Deny,
                _ => upgrade::Undecided::Ask,
            };
            ctx.upgrade(&plugin, candidate.as_deref(), yes, undecided, json)
        }
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
        Command::Config(ConfigCommand::Set {
            plugin,
            key,
            value,
            from_file,
            scope,
        }) => match (value.as_deref(), from_file) {
            (Some("-"), _) => config::read_value(Path::new("-"))
                .and_then(|v| ctx.config_set(&plugin, &key, &v, &scope)),
            (Some(v), _) => ctx.config_set(&plugin, &key, v, &scope),
            (None, Some(file)) => {
                config::read_value(&file).and_then(|v| ctx.config_set(&plugin, &key, &v, &scope))
            }
            (None, None) => {
                Err(usage::UsageError("give a VALUE, `-` or --from-file FILE".into()).into())
            }
        },
        Command::Config(ConfigCommand::Unset { plugin, key, scope }) => {
            ctx.config_unset(&plugin, &key, &scope)
        }
        Command::Config(ConfigCommand::Show { plugin, json }) => ctx.config_show(&plugin, json),
        Command::Config(ConfigCommand::RotateKey) => ctx.config_rotate_key(),
        Command::Enable { plugin } => ctx.enable(&plugin),
        Command::Disable { plugin, reason } => ctx.disable(&plugin, &reason),
        Command::List { json } => ctx.list(json),
        Command::Hosts { json } => ctx.hosts(json),
        Command::Show { plugin, json } => ctx.show(&plugin, json),
        Command::Audit {
            plugin,
            follow,
            json,
        } => ctx.audit(plugin.as_deref(), follow, json),
        Command::Snapshot {
            after,
            events_after,
            limit,
            json,
        } => ctx.snapshot(serve::windows(after, events_after, limit), json),
        Command::Remove { target, all } => ctx.remove(&target, all),
        Command::Prune {
            events_older_than,
            hosts_silent_for,
        } => ctx.prune(events_older_than.as_deref(), hosts_silent_for.as_deref()),
        Command::Doctor {
            compile_cache,
            json,
        } => ctx.doctor(compile_cache.as_deref(), json),
        Command::Serve {
            listen,
            files_from,
            allow_hosts,
            max_connections,
            max_connections_per_peer,
            header_timeout,
            body_timeout,
            refusal_window,
        } => ctx.serve(serve::Options {
            refusal_window: refusal_window.max(std::time::Duration::from_secs(1)),
            listen,
            files_from,
            limits: listener::Limits {
                max_connections: max_connections.max(1),
                max_per_peer: max_connections_per_peer.max(1),
                header_timeout,
                body_timeout,
                hosts: allow_hosts,
            },
        }),
        Command::Dev { dirs, config, json } => dev::dev(dev::Options { dirs, config, json }),
        Command::Host {
            name,
            scope,
            config,
            poll_ms,
            json,
        } => fleet::host(
            &ctx,
            fleet::Options {
                name,
                scope,
                config,
                poll_ms,
                json,
            },
        ),
        Command::Mcp {
            dirs,
            config,
            scope,
            poll_ms,
            http,
            subject,
            token_file,
            no_token,
            allow_origins,
            allow_hosts,
            max_message_bytes,
            max_connections,
            max_connections_per_peer,
        } => mcp::mcp(
            &ctx,
            mcp::Source {
                dirs,
                config,
                scope,
                poll_ms,
            },
            mcp::Options {
                http,
                subject,
                token_file,
                no_token,
                allow_origins,
                max_message_bytes,
                limits: listener::Limits {
                    max_connections: max_connections.max(1),
                    max_per_peer: max_connections_per_peer.max(1),
                    header_timeout: std::time::Duration::from_secs(10),
                    body_timeout: std::time::Duration::from_secs(60),
                    hosts: allow_hosts,
                },
            },
        ),
        Command::Service(ServiceCommand::List { plugin, json }) => {
            ctx.service_list(plugin.as_deref(), json)
        }
        Command::Service(ServiceCommand::Show { target, json }) => ctx.service_show(&target, json),
        Command::McpServer(McpServerCommand::Add {
            name,
            target,
            args,
            stdio,
            token_secret,
            timeout_ms,
            json,
        }) => ctx.mcp_server_add(
            &name,
            mcp_servers::Target {
                target,
                args,
                stdio,
                token_secret,
                timeout: std::time::Duration::from_millis(timeout_ms),
            },
            json,
        ),
        Command::McpServer(McpServerCommand::Remove { name }) => ctx.mcp_server_remove(&name),
        Command::McpServer(McpServerCommand::List { json }) => ctx.mcp_server_list(json),
        Command::McpServer(McpServerCommand::Show { name, json }) => {
            ctx.mcp_server_show(&name, json)
        }
        Command::McpServer(McpServerCommand::Refresh {
            name,
            timeout_ms,
            json,
        }) => ctx.mcp_server_refresh(&name, std::time::Duration::from_millis(timeout_ms), json),
        Command::McpServer(McpServerCommand::Approve { name, digest, json }) => {
            ctx.mcp_server_approve(&name, digest, json)
        }
        Command::Hook(HookCommand::ClaudeCode(HookSource { dirs, config })) => agent_cli::hook(
            &ctx,
            agent_cli::Cli::ClaudeCode,
            agent_cli::Source { dirs, config },
        ),
        Command::Hook(HookCommand::Codex(HookSource { dirs, config })) => agent_cli::hook(
            &ctx,
            agent_cli::Cli::Codex,
            agent_cli::Source { dirs, config },
        ),
        Command::Hook(HookCommand::Install(s)) => {
            hook_settings::install(&ctx, s.cli, s.project, s.dry_run)
        }
        Command::Hook(HookCommand::Uninstall(s)) => {
            hook_settings::uninstall(&ctx, s.cli, s.project, s.dry_run)
        }
        Command::Clear { yes } => ctx.clear(yes),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            errln!("error: {e:#}");
            match e.downcast_ref::<usage::UsageError>() {
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
