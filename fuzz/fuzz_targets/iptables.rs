//! Fuzzes `meshc iptables` flag parsing: arbitrary bytes split at NUL into
//! an argument vector, parsed by clap into `IptablesArgs` exactly as the
//! CLI declares them, then `to_config` and rule generation. No panic on
//! any arguments; a refused flag set is an error value, never a crash.

#![no_main]

use clap::Parser;
use libfuzzer_sys::fuzz_target;
use meshc::iptables::IptablesArgs;

#[derive(Parser)]
#[command(name = "iptables")]
struct Cli {
    #[command(flatten)]
    args: IptablesArgs,
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let argv = std::iter::once("iptables").chain(text.split('\0'));
    let Ok(cli) = Cli::try_parse_from(argv) else {
        return;
    };
    if let Ok((config, flavor)) = cli.args.to_config() {
        std::hint::black_box(meshc::iptables::generate(&config, flavor));
    }
});
