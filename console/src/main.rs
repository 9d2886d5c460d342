//! gas-console: the operator's terminal console for a running gas-miner. Not built yet: the
//! admin socket it attaches to comes with the console issue.

fn main() -> std::process::ExitCode {
    eprintln!(
        "gas-console: not available in this build yet; query the miner with `gas-miner` logs or its validator API for now"
    );
    std::process::ExitCode::from(2)
}
