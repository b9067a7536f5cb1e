//! `kobj`: the command line of the kobj engine.
//!
//! `kobj demo` (the default) walks through the seed scenarios — inheritance, duplication
//! and named objects — printing each process's handle table as it goes, then through a
//! mutex's ownership: taken by one process's thread, abandoned when it exits, acquired
//! (`Abandoned`) by another process's thread.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod demo;

/// The kobj command line.
#[derive(Parser, Debug)]
#[command(name = "kobj", version, about = "A lock-free engine for the Windows kernel-object model")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Walk through the seed scenarios, printing handle tables (the default).
    Demo,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Demo) {
        Command::Demo => demo::run(&mut std::io::stdout().lock()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kobj: {e}");
            ExitCode::FAILURE
        }
    }
}
