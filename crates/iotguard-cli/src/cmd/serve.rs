//! `iotguard serve`: the API and the dashboard over what exists on disk: a model file (for
//! scoring and the model endpoints), an alert store written by `detect` or `demo`, a compare
//! report. Also the server arguments `demo` shares.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use iotguard_detect::{ActiveModel, AlertStore, ModelHandle};
use iotguard_server::{AppState, Server, ServerConfig, DEFAULT_LISTEN, TOKEN_ENV};

use crate::{exit, output};

/// Where the server listens and its token.
#[derive(Args, Debug)]
pub(crate) struct ServerArgs {
    /// The address to serve the API and the dashboard on. Anything but loopback needs a token.
    #[arg(long, value_name = "ADDR", default_value_t = DEFAULT_LISTEN)]
    pub(crate) listen: SocketAddr,
    /// The bearer token write endpoints (model activation) require [default: none, writes
    /// refused]. Prefer the environment variable: command lines are visible to other users.
    #[arg(long, value_name = "TOKEN", env = TOKEN_ENV, hide_env_values = true)]
    pub(crate) token: Option<String>,
    /// A host name the server answers for besides its listen address (and localhost on
    /// loopback); repeatable. Requests naming another host get 421 [default: on 0.0.0.0, any].
    #[arg(long = "allowed-host", value_name = "NAME")]
    pub(crate) allowed_hosts: Vec<String>,
    /// Off loopback, leave reads open (only writes need the token). Without it every route but
    /// /health and the dashboard's files needs the token there.
    #[arg(long)]
    pub(crate) public_read: bool,
    /// A folder written by `iotguard compare`: the dashboard shows its table and plots.
    #[arg(long, value_name = "DIR")]
    pub(crate) report: Option<PathBuf>,
    /// A folder written by `iotguard explore` on the model's training data: the model panel
    /// links its page [default: the `explore` folder beside the model file, if it has one].
    #[arg(long, value_name = "DIR")]
    pub(crate) explore: Option<PathBuf>,
    /// The folder `POST /api/v1/models/activate` may load model files from; anything else is
    /// refused [default: the folder of the model being served].
    #[arg(long, value_name = "DIR")]
    pub(crate) models_dir: Option<PathBuf>,
}

impl ServerArgs {
    /// Returns the exploration folder: `--explore`, else `explore/` beside the model file when
    /// it holds a page.
    pub(crate) fn explore_dir(&self, model: Option<&std::path::Path>) -> Option<PathBuf> {
        self.explore.clone().or_else(|| {
            let beside = model?.parent()?.join("explore");
            beside.join("explore.html").is_file().then_some(beside)
        })
    }

    /// Returns the token; an empty one (`IOTGUARD_API_TOKEN=`) counts as none.
    pub(crate) fn token(&self) -> Option<String> {
        self.token.clone().filter(|t| !t.is_empty())
    }

    /// Returns the server configuration.
    pub(crate) fn config(&self) -> ServerConfig {
        ServerConfig {
            listen: self.listen,
            token: self.token(),
            allowed_hosts: self.allowed_hosts.clone(),
            public_read: self.public_read,
        }
    }
}

/// Arguments of `serve`.
#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// A model file: enables `POST /api/v1/score` and the model endpoints.
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// The SQLite alert store `detect` or `demo` write: enables the alert endpoints [default:
    /// `iotguard-alerts.db` in the current folder, detect's default, when it exists].
    #[arg(long, value_name = "FILE")]
    alerts_db: Option<PathBuf>,
    #[command(flatten)]
    operating: super::ThresholdArgs,
}

/// The store `detect` writes when not given `--alerts-db`, and `serve` reads when it exists.
pub(crate) const DEFAULT_ALERTS_DB: &str = "iotguard-alerts.db";

/// Returns a flag that turns true on Ctrl-C or SIGTERM.
pub(crate) fn stop_flag() -> anyhow::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    ctrlc::set_handler(move || f.store(true, Ordering::Relaxed))
        .context("installing the Ctrl-C handler")?;
    Ok(flag)
}

/// Waits until the flag turns true.
pub(crate) fn wait_for(flag: &AtomicBool) {
    while !flag.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn run(args: ServeArgs) -> anyhow::Result<u8> {
    let mut state = AppState::builder()
        .token(args.server.token())
        .report_dir(args.server.report.clone())
        .explore_dir(args.server.explore_dir(args.model.as_deref()))
        .models_dir(args.server.models_dir.clone());
    if let Some(path) = &args.model {
        let mut loaded = iotguard_runtime::lab::load_model(path)
            .with_context(|| format!("loading model {}", path.display()))?;
        args.operating.apply(&mut loaded)?;
        state = state.model(ModelHandle::new(ActiveModel::new(loaded, Some(path))));
    } else if args.operating.threshold.is_some() || args.operating.target_far.is_some() {
        anyhow::bail!("--threshold and --target-far need --model");
    }
    let alerts_db = args.alerts_db.clone().or_else(|| {
        // detect writes its store here unless told otherwise: serve what it wrote.
        let default = PathBuf::from(DEFAULT_ALERTS_DB);
        default.is_file().then(|| {
            output::info(&format!(
                "using the alert store {DEFAULT_ALERTS_DB} found in the current folder \
                 (--alerts-db FILE for another)"
            ));
            default
        })
    });
    if let Some(path) = &alerts_db {
        if !path.is_file() {
            anyhow::bail!("{}: no such alert store", path.display());
        }
        let store = AlertStore::open(path)
            .with_context(|| format!("opening alert store {}", path.display()))?;
        state = state.store(store);
    }
    let stop = stop_flag()?;
    let config = args.server.config();
    if let Some(w) = config.any_host_warning() {
        output::warn(&w);
    }
    let server = Server::start(&config, state.build())?;
    output::out(&server.url());
    output::info(&format!(
        "serving the API and the dashboard at {} (Ctrl-C stops)",
        server.url()
    ));
    wait_for(&stop);
    server.stop()?;
    output::info("stopped");
    Ok(exit::OK)
}
