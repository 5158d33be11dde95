//! The binary: parse flags, run, report errors with a hint and the right exit code.

use clap::Parser;

fn main() {
    let cli = smtp_status_exporter::cli::Cli::parse();
    if let Err(e) = smtp_status_exporter::app::run(cli) {
        eprintln!("error: {e:#}");
        if let Some(h) = smtp_status_exporter::app::hint(&e) {
            eprintln!("hint: {h}");
        }
        std::process::exit(smtp_status_exporter::app::exit_code(&e));
    }
}
