use std::io::IsTerminal as _;
use std::process::ExitCode;

use katalog::settings::SettingsError;
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    init_logging();
    // Every setting is checked before anything is opened.
    let resolved = match katalog::settings::parse::<katalog::cli::Cli>(std::env::args_os()) {
        Ok(resolved) => resolved,
        Err(SettingsError::CommandLine(error)) => error.exit(),
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    match katalog::cli::run(resolved).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr: readable lines on a terminal, one JSON object per
/// line otherwise (for log collectors), with the fields of the enclosing
/// spans, such as a request's id.
fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if std::io::stderr().is_terminal() {
        logs.init();
    } else {
        logs.json().with_current_span(false).with_span_list(true).init();
    }
}
