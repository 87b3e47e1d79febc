//! The synthetic topology generator as a command (the generator itself is
//! `meshc::synth`, shared with the benchmarks and the tests):
//!
//! ```text
//! cargo run --release --example synth -- --services 10000 --vms 2000 --clusters 20 > big.kdl
//! ```

use meshc::synth::{Format, Params, generate};

const USAGE: &str = "usage: synth --services N --vms M --clusters K [--networks W] [--seed S] \
[--syntax kdl|toml] [--cycles] [--istio VERSION]";

fn parse_args(args: impl Iterator<Item = String>) -> Result<Params, String> {
    let mut p = Params::new(20, 4, 2);
    let mut args = args.peekable();
    while let Some(flag) = args.next() {
        let mut value = |what: &str| args.next().ok_or_else(|| format!("{what} needs a value"));
        let number = |s: String, what: &str| s.parse::<usize>().map_err(|e| format!("{what}: {e}"));
        match flag.as_str() {
            "--services" => p.services = number(value(&flag)?, &flag)?,
            "--vms" => p.vms = number(value(&flag)?, &flag)?,
            "--clusters" => p.clusters = number(value(&flag)?, &flag)?,
            "--networks" => p.networks = Some(number(value(&flag)?, &flag)?),
            "--seed" => p.seed = value(&flag)?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--syntax" => {
                p.format = match value(&flag)?.as_str() {
                    "kdl" => Format::Kdl,
                    "toml" => Format::Toml,
                    other => return Err(format!("--syntax: kdl or toml, not `{other}`")),
                }
            }
            "--istio" => p.istio = value(&flag)?,
            "--cycles" => p.cycles = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(p)
}

fn main() {
    let text = parse_args(std::env::args().skip(1)).and_then(|p| generate(&p));
    match text {
        Ok(text) => print!("{text}"),
        Err(e) => {
            if !e.is_empty() {
                eprintln!("synth: {e}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}
