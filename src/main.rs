//! The command line: `serve`, `check-config`, `admin ...` (see `voiceportal::admin::cli`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use voiceportal::admin::cli::AdminCommand;
use voiceportal::app::App;
use voiceportal::config::{CONFIG_FILE_ENV, Config};

#[derive(Parser)]
#[command(version, about = "Voicemail and voice portal for Asterisk, over ARI")]
struct Cli {
    /// TOML configuration file; environment variables VOICEPORTAL__SECTION__KEY override it.
    #[arg(long, global = true, env = CONFIG_FILE_ENV)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Connect to Asterisk and Redis and serve calls until SIGINT or SIGTERM.
    Serve,
    /// Print the effective configuration (secrets masked); exit 1 if it is invalid.
    CheckConfig,
    /// Administer mailboxes, PINs, the org default PIN and the portal passcode.
    /// PINs are read from standard input or prompted, never taken from arguments.
    #[command(subcommand)]
    Admin(AdminCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("voiceportal: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::CheckConfig => {
            print!("{}", config.to_masked_toml());
            eprintln!("configuration OK");
            ExitCode::SUCCESS
        }
        Command::Serve => serve(config),
        Command::Admin(command) => voiceportal::admin::cli::run(&config, command),
    }
}

fn serve(config: Config) -> ExitCode {
    voiceportal::logs::init(&config.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("voiceportal: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The service runs as a task, on the runtime's workers: run directly by
    // `block_on` it would live on the main thread, and every event passing
    // through the call router would wake another thread (a futex call and a
    // context switch each time, the largest CPU cost of a call).
    let service = runtime.spawn(async {
        let app = match App::build(config).await {
            Ok(app) => app,
            Err(e) => {
                tracing::error!(error = %e, "cannot start");
                return ExitCode::FAILURE;
            }
        };
        app.run(shutdown_signal()).await;
        ExitCode::SUCCESS
    });
    match runtime.block_on(service) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("voiceportal: the service task failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM (systemd, docker stop).
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("shutdown requested");
}
