//! The `mqk` binary: parse the command line, set up logging, run the subcommand, map its
//! result to an exit code. Everything else is in the library.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::CommandFactory;
use mqk::cli::{Cli, Command};
use mqk::exit::{Code, code_of};
use mqk::{cmd, settings};

fn main() -> ExitCode {
    let cli = Cli::parse_typed(std::env::args_os()).unwrap_or_else(|e| e.exit());
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(Code::Failure.as_i32() as u8);
        }
    };
    let result = runtime.block_on(run(cli.command));
    // A task may still block on stdin; it has nothing left to do.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(code_of(&e).as_i32() as u8)
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    let mut interrupts = mqk::Interrupts::install();
    let stop = interrupts.next();
    match command {
        Command::Pub(args) => {
            let settings = settings::resolve_pub(args)?;
            cmd::publish::run(settings, tokio::io::stdin(), stop).await
        }
        Command::Sub(args) => {
            let settings = settings::resolve_sub(args)?;
            // A reader that went away ends `sub` as quietly as an interrupt.
            let stop = async {
                tokio::select! {
                    () = stop => {}
                    () = mqk::output::reader_gone() => {}
                }
            };
            cmd::subscribe::run(settings, std::io::stdout().lock(), stop).await
        }
        Command::Bridge(args) => {
            drop(stop);
            cmd::bridge::run(settings::resolve_bridge(args)?, &mut interrupts).await
        }
        Command::Dev(args) => {
            cmd::dev::run(settings::resolve_dev(args)?, std::io::stdout(), stop).await
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "mqk", &mut std::io::stdout());
            Ok(())
        }
    }
}

/// Logs go to stderr; `MQK_LOG` takes a tracing filter (for example `debug`). rumqttd and
/// rumqttc are off or quiet by default: they log ordinary disconnects as errors.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MQK_LOG")
        .unwrap_or_else(|_| "warn,mqk=info,rumqttd=off,rumqttc=error".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
