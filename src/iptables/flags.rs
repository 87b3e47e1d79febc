//! The arguments of `meshc iptables`: istio-iptables's own flags (same
//! short and long names, same defaults), plus the inputs the real tool
//! reads from the machine (`--dns-server`, `--ipv6`) or from the environment
//! only (owner groups, loopback CIDR), and the release to imitate.
//!
//! [`IptablesArgs::to_config`] turns them into a [`Config`] and a [`Flavor`].
//! Every value must be one iptables would accept where the rules put it
//! (a port, a port list, CIDRs, owners, interface names, a mark), so that
//! a malformed flag is refused naming it, as istio-iptables refuses `-x
//! '*'`, rather than printing rules that `iptables-restore` rejects; the
//! lists keep Istio's own splitting (`6000,7000,` is two ports).

use std::net::IpAddr;

use super::Flavor;
use super::config::{Config, InterceptionMode, split};

/// Print the rules istio-iptables would install, as a given Istio release
/// writes them.
#[derive(Clone, Debug, PartialEq, Eq, clap::Args)]
pub struct IptablesArgs {
    /// Istio release to imitate: 1.0–1.7 give the 1.0 istio-iptables.sh
    /// commands, 1.8–1.23 iptables command lines, 1.24 iptables-restore
    /// input in the 1.23 chain layout, 1.25 and later (or "master")
    /// iptables-restore input in the ISTIO_OUTPUT_DNS layout.
    #[arg(long, value_name = "VERSION", default_value = "1.24")]
    pub istio_version: String,

    /// Port to which all outbound TCP traffic is redirected.
    #[arg(short = 'p', long, value_name = "PORT", default_value = "15001")]
    pub envoy_port: String,

    /// Port to which all inbound TCP traffic is redirected [default: 15006;
    /// before 1.8: the envoy port].
    #[arg(short = 'z', long, value_name = "PORT")]
    pub inbound_capture_port: Option<String>,

    /// The HBONE tunnel port, never captured inbound.
    #[arg(short = 'e', long, value_name = "PORT", default_value = "15008")]
    pub inbound_tunnel_port: String,

    /// Comma list of UIDs whose traffic is not redirected (the proxy's)
    /// [default: 1337; before 1.8: 1337,0].
    #[arg(short = 'u', long, value_name = "LIST")]
    pub proxy_uid: Option<String>,

    /// Comma list of GIDs whose traffic is not redirected [default: the UIDs].
    #[arg(short = 'g', long, value_name = "LIST")]
    pub proxy_gid: Option<String>,

    /// How inbound connections reach the proxy: REDIRECT (default) or TPROXY.
    #[arg(short = 'm', long = "istio-inbound-interception-mode", value_name = "MODE")]
    pub interception_mode: Option<String>,

    /// Packet mark used in TPROXY mode.
    #[arg(
        short = 't',
        long = "istio-inbound-tproxy-mark",
        value_name = "MARK",
        default_value = "1337"
    )]
    pub tproxy_mark: String,

    /// Routing table for TPROXY-marked packets.
    #[arg(
        short = 'r',
        long = "istio-inbound-tproxy-route-table",
        value_name = "TABLE",
        default_value = "133"
    )]
    pub tproxy_route_table: String,

    /// Comma list of inbound ports to redirect, "*" for all; empty captures
    /// no inbound traffic.
    #[arg(short = 'b', long = "istio-inbound-ports", value_name = "LIST")]
    pub inbound_ports: Option<String>,

    /// Comma list of inbound ports never redirected (only read with -b '*').
    #[arg(short = 'd', long = "istio-local-exclude-ports", value_name = "LIST")]
    pub local_exclude_ports: Option<String>,

    /// Comma list of outbound CIDRs to redirect, "*" for all; empty captures
    /// no outbound traffic.
    #[arg(short = 'i', long = "istio-service-cidr", value_name = "LIST")]
    pub service_cidr: Option<String>,

    /// Comma list of outbound CIDRs never redirected.
    #[arg(short = 'x', long = "istio-service-exclude-cidr", value_name = "LIST")]
    pub service_exclude_cidr: Option<String>,

    /// Comma list of outbound ports always redirected.
    #[arg(short = 'q', long = "istio-outbound-ports", value_name = "LIST")]
    pub outbound_ports: Option<String>,

    /// Comma list of outbound ports never redirected.
    #[arg(short = 'o', long = "istio-local-outbound-ports-exclude", value_name = "LIST")]
    pub local_outbound_ports_exclude: Option<String>,

    /// Comma list of NICs whose traffic is never captured.
    #[arg(short = 'c', long = "istio-exclude-interfaces", value_name = "LIST")]
    pub exclude_interfaces: Option<String>,

    /// Comma list of virtual NICs whose inbound traffic counts as outbound.
    #[arg(short = 'k', long = "kube-virt-interfaces", value_name = "LIST")]
    pub kube_virt_interfaces: Option<String>,

    /// Capture DNS and send it to the istio-agent (port 15053).
    #[arg(long)]
    pub redirect_dns: bool,

    /// With --redirect-dns: capture all port-53 traffic, not only that to the
    /// --dns-server addresses.
    #[arg(long)]
    pub capture_all_dns: bool,

    /// A nameserver of the machine's /etc/resolv.conf (repeatable).
    #[arg(long = "dns-server", value_name = "IP")]
    pub dns_servers: Vec<String>,

    /// Drop packets conntrack finds invalid instead of resetting them.
    #[arg(long)]
    pub drop_invalid: bool,

    /// Comma list of groups whose outbound traffic is captured, "*" for all
    /// (ISTIO_OUTBOUND_OWNER_GROUPS).
    #[arg(long, value_name = "LIST", default_value = "*")]
    pub owner_groups_include: String,

    /// Comma list of groups whose outbound traffic is not captured
    /// (ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE).
    #[arg(long, value_name = "LIST")]
    pub owner_groups_exclude: Option<String>,

    /// The host's IPv4 loopback range (ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR).
    #[arg(
        long = "host-ipv4-loopback-cidr",
        value_name = "CIDR",
        default_value = "127.0.0.1/32"
    )]
    pub host_ipv4_loopback_cidr: String,

    /// Also write IPv6 rules (the machine's primary address is IPv6).
    #[arg(long)]
    pub ipv6: bool,

    /// Add an NFLOG rule before each traced rule (1.8–1.23 only).
    #[arg(long)]
    pub iptables_trace_logging: bool,
}

impl IptablesArgs {
    /// The configuration and flavor these arguments ask for.
    ///
    /// # Errors
    ///
    /// What is wrong with the arguments, as a message for the user: an
    /// unknown release or mode, a DNS server that is not an address, or
    /// `-x '*'`.
    pub fn to_config(&self) -> Result<(Config, Flavor), String> {
        let flavor = flavor_of(&self.istio_version)?;
        let base = if flavor == Flavor::Legacy {
            Config::legacy()
        } else {
            Config::default()
        };
        let owned = |value: &Option<String>| value.clone().unwrap_or_default();
        // Istio reads an empty -u or -g as unset.
        let given = |value: &Option<String>| {
            value
                .as_deref()
                .filter(|v| !v.is_empty())
                .map(|v| vec![v.to_string()])
        };

        let proxy_uid = given(&self.proxy_uid).unwrap_or(base.proxy_uid);
        let proxy_gid = given(&self.proxy_gid).unwrap_or_else(|| proxy_uid.clone());
        // The 1.0 script captures inbound traffic on the Envoy port.
        let inbound_capture_port = match (&self.inbound_capture_port, flavor) {
            (Some(port), _) => port.clone(),
            (None, Flavor::Legacy) => self.envoy_port.clone(),
            (None, _) => base.inbound_capture_port,
        };
        let exclude = owned(&self.service_exclude_cidr);
        if exclude == "*" {
            // Istio refuses it too: excluding everything is an empty -i.
            return Err("invalid -x/--istio-service-exclude-cidr: '*' is not allowed".into());
        }
        self.validate(&inbound_capture_port)?;
        let (dns_servers_v4, dns_servers_v6) = dns_servers(&self.dns_servers)?;

        let config = Config {
            proxy_port: self.envoy_port.clone(),
            inbound_capture_port,
            inbound_tunnel_port: self.inbound_tunnel_port.clone(),
            proxy_uid,
            proxy_gid,
            inbound_interception_mode: mode(self.interception_mode.as_deref().unwrap_or_default())?,
            inbound_tproxy_mark: self.tproxy_mark.clone(),
            inbound_tproxy_route_table: self.tproxy_route_table.clone(),
            inbound_ports_include: owned(&self.inbound_ports),
            inbound_ports_exclude: owned(&self.local_exclude_ports),
            outbound_ip_ranges_include: owned(&self.service_cidr),
            outbound_ip_ranges_exclude: exclude,
            outbound_ports_include: owned(&self.outbound_ports),
            outbound_ports_exclude: owned(&self.local_outbound_ports_exclude),
            exclude_interfaces: owned(&self.exclude_interfaces),
            reroute_virtual_interfaces: owned(&self.kube_virt_interfaces),
            redirect_dns: self.redirect_dns,
            capture_all_dns: self.capture_all_dns,
            dns_servers_v4,
            dns_servers_v6,
            drop_invalid: self.drop_invalid,
            owner_groups_include: self.owner_groups_include.clone(),
            owner_groups_exclude: owned(&self.owner_groups_exclude),
            host_ipv4_loopback_cidr: self.host_ipv4_loopback_cidr.clone(),
            enable_ipv6: self.ipv6,
            trace_logging: self.iptables_trace_logging,
        };
        Ok((config, flavor))
    }
}

impl IptablesArgs {
    /// Every flag's value is one iptables takes where the rules put it.
    fn validate(&self, inbound_capture_port: &str) -> Result<(), String> {
        let opt = |value: &Option<String>| value.clone().unwrap_or_default();
        check("-p/--envoy-port", &self.envoy_port, port)?;
        check("-z/--inbound-capture-port", inbound_capture_port, port)?;
        check("-e/--inbound-tunnel-port", &self.inbound_tunnel_port, port)?;
        check_list("-u/--proxy-uid", &opt(&self.proxy_uid), owner)?;
        check_list("-g/--proxy-gid", &opt(&self.proxy_gid), owner)?;
        check("-t/--istio-inbound-tproxy-mark", &self.tproxy_mark, number)?;
        check(
            "-r/--istio-inbound-tproxy-route-table",
            &self.tproxy_route_table,
            number,
        )?;
        let inbound = opt(&self.inbound_ports);
        if inbound != "*" {
            check_list("-b/--istio-inbound-ports", &inbound, port_or_range)?;
        }
        check_list(
            "-d/--istio-local-exclude-ports",
            &opt(&self.local_exclude_ports),
            port_or_range,
        )?;
        let include = opt(&self.service_cidr);
        if include != "*" {
            check_list("-i/--istio-service-cidr", &include, cidr)?;
        }
        check_list(
            "-x/--istio-service-exclude-cidr",
            &opt(&self.service_exclude_cidr),
            cidr,
        )?;
        check_list(
            "-q/--istio-outbound-ports",
            &opt(&self.outbound_ports),
            port_or_range,
        )?;
        check_list(
            "-o/--istio-local-outbound-ports-exclude",
            &opt(&self.local_outbound_ports_exclude),
            port_or_range,
        )?;
        check_list(
            "-c/--istio-exclude-interfaces",
            &opt(&self.exclude_interfaces),
            interface,
        )?;
        check_list(
            "-k/--kube-virt-interfaces",
            &opt(&self.kube_virt_interfaces),
            interface,
        )?;
        if self.owner_groups_include != "*" {
            check_list("--owner-groups-include", &self.owner_groups_include, owner)?;
        }
        check_list("--owner-groups-exclude", &opt(&self.owner_groups_exclude), owner)?;
        check(
            "--host-ipv4-loopback-cidr",
            &self.host_ipv4_loopback_cidr,
            loopback_cidr,
        )
    }
}

/// `value` for `flag`, or an error naming both and what was expected.
fn check(flag: &str, value: &str, valid: fn(&str) -> Result<(), &'static str>) -> Result<(), String> {
    valid(value).map_err(|expected| format!("invalid {flag} '{value}': expected {expected}"))
}

/// Each item of a comma list (Istio's splitting: empty items are skipped).
fn check_list(flag: &str, list: &str, valid: fn(&str) -> Result<(), &'static str>) -> Result<(), String> {
    split(list).try_for_each(|item| {
        valid(item).map_err(|expected| format!("invalid {flag} '{list}': '{item}' is not {expected}"))
    })
}

/// 1–65535, decimal, as iptables reads a port.
fn port(value: &str) -> Result<(), &'static str> {
    const WANT: &str = "a port (1-65535)";
    let digits = !value.is_empty() && value.len() <= 5 && value.bytes().all(|b| b.is_ascii_digit());
    match value.parse::<u16>() {
        Ok(p) if digits && p > 0 => Ok(()),
        _ => Err(WANT),
    }
}

/// A port or an iptables port range `FIRST:LAST`.
fn port_or_range(value: &str) -> Result<(), &'static str> {
    const WANT: &str = "a port (1-65535) or a range FIRST:LAST";
    match value.split_once(':') {
        Some((first, last)) => {
            port(first).map_err(|_| WANT)?;
            port(last).map_err(|_| WANT)
        }
        None => port(value).map_err(|_| WANT),
    }
}

/// A 32-bit unsigned number, decimal or `0x` hex (marks, table ids).
fn number(value: &str) -> Result<(), &'static str> {
    const WANT: &str = "a number (0-4294967295)";
    let parsed = match value.strip_prefix("0x") {
        Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            u32::from_str_radix(hex, 16).ok()
        }
        Some(_) => None,
        None if value.bytes().all(|b| b.is_ascii_digit()) => value.parse::<u32>().ok(),
        None => None,
    };
    parsed.map(|_| ()).ok_or(WANT)
}

/// What `-m owner --uid-owner`/`--gid-owner` takes: an id, an id range
/// `FIRST-LAST`, or a user or group name.
fn owner(value: &str) -> Result<(), &'static str> {
    const WANT: &str = "a user or group id, an id range FIRST-LAST, or a name";
    let id = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && s.parse::<u32>().is_ok();
    let name = |s: &str| {
        s.len() <= 32
            && s.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    };
    let ok = match value.split_once('-') {
        Some((first, last)) if id(first) => id(last),
        _ => id(value) || name(value),
    };
    if ok { Ok(()) } else { Err(WANT) }
}

/// An IPv4 or IPv6 network in CIDR form (`10.0.0.0/8`), as Istio parses it.
fn cidr(value: &str) -> Result<(), &'static str> {
    value
        .parse::<ipnet::IpNet>()
        .map(|_| ())
        .map_err(|_| "a CIDR such as 10.0.0.0/8 or 2001:db8::/32")
}

/// A network interface name as the kernel allows it (1–15 bytes, no `/`,
/// no whitespace), optionally ending in iptables's `+` wildcard.
fn interface(value: &str) -> Result<(), &'static str> {
    let ok = (1..=15).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b'\'' | b'"' | b'\\'));
    if ok {
        Ok(())
    } else {
        Err("an interface name (1-15 characters, no '/' or spaces)")
    }
}

/// Istio's `ValidateIPv4LoopbackCidr`: an IPv4 CIDR inside 127.0.0.0/8,
/// with a prefix of at least 8.
fn loopback_cidr(value: &str) -> Result<(), &'static str> {
    const WANT: &str = "an IPv4 CIDR inside 127.0.0.0/8, such as 127.0.0.1/32";
    match value.parse::<ipnet::Ipv4Net>() {
        Ok(net) if net.prefix_len() >= 8 && net.addr().is_loopback() => Ok(()),
        _ => Err(WANT),
    }
}

/// `1.24`, `1.24.3`, `v1.9.0-beta.1` or `master`.
fn flavor_of(version: &str) -> Result<Flavor, String> {
    if version == "master" {
        return Ok(Flavor::Restore);
    }
    let bad = || format!("invalid --istio-version '{version}': expected MAJOR.MINOR (e.g. 1.24) or 'master'");
    let mut parts = version.strip_prefix('v').unwrap_or(version).split('.');
    let mut number = || -> Option<u32> {
        let part = parts.next()?;
        let digits = part
            .find(|c: char| !c.is_ascii_digit())
            .map_or(part, |end| &part[..end]);
        digits.parse().ok()
    };
    let (major, minor) = number().zip(number()).ok_or_else(bad)?;
    Ok(Flavor::for_istio(major, minor))
}

/// `-m`: Istio compares with `TPROXY` and takes anything else for REDIRECT;
/// here anything else is an error, so that a typo cannot silently change
/// the capture mode.
fn mode(value: &str) -> Result<InterceptionMode, String> {
    match value {
        "" | "REDIRECT" => Ok(InterceptionMode::Redirect),
        "TPROXY" => Ok(InterceptionMode::Tproxy),
        other => Err(format!(
            "invalid -m/--istio-inbound-interception-mode '{other}': expected REDIRECT or TPROXY"
        )),
    }
}

/// The `--dns-server` addresses by family (Istio's `IPsSplitV4V6`); each
/// value may also be a comma list.
fn dns_servers(values: &[String]) -> Result<(Vec<String>, Vec<String>), String> {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for server in values.iter().flat_map(|value| split(value)) {
        match server.parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) => v4.push(server.to_string()),
            Ok(IpAddr::V6(_)) => v6.push(server.to_string()),
            Err(_) => return Err(format!("invalid --dns-server '{server}': not an IP address")),
        }
    }
    Ok((v4, v6))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: IptablesArgs,
    }

    fn parse(args: &[&str]) -> Result<(Config, Flavor), String> {
        let cli = Cli::try_parse_from(std::iter::once("meshc").chain(args.iter().copied()))
            .map_err(|err| err.to_string())?;
        cli.args.to_config()
    }

    #[test]
    fn flags_are_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_are_istios() {
        let (config, flavor) = parse(&[]).unwrap();
        assert_eq!(flavor, Flavor::RestoreV1_24);
        assert_eq!(config, Config::default());
    }

    #[test]
    fn short_flags_reach_the_config() {
        let (config, flavor) = parse(&[
            "--istio-version",
            "1.23.6",
            "-p",
            "1",
            "-z",
            "2",
            "-e",
            "3",
            "-u",
            "3,4",
            "-m",
            "TPROXY",
            "-t",
            "7",
            "-r",
            "8",
            "-b",
            "*",
            "-d",
            "22",
            "-i",
            "10.0.0.0/8",
            "-x",
            "10.1.0.0/16",
            "-q",
            "80",
            "-o",
            "81",
            "-c",
            "eth9",
            "-k",
            "eth1",
            "--redirect-dns",
            "--dns-server",
            "127.0.0.53",
            "--dns-server",
            "::1",
        ])
        .unwrap();
        assert_eq!(flavor, Flavor::Commands);
        let want = Config {
            proxy_port: "1".into(),
            inbound_capture_port: "2".into(),
            inbound_tunnel_port: "3".into(),
            proxy_uid: vec!["3,4".into()],
            proxy_gid: vec!["3,4".into()],
            inbound_interception_mode: InterceptionMode::Tproxy,
            inbound_tproxy_mark: "7".into(),
            inbound_tproxy_route_table: "8".into(),
            inbound_ports_include: "*".into(),
            inbound_ports_exclude: "22".into(),
            outbound_ip_ranges_include: "10.0.0.0/8".into(),
            outbound_ip_ranges_exclude: "10.1.0.0/16".into(),
            outbound_ports_include: "80".into(),
            outbound_ports_exclude: "81".into(),
            exclude_interfaces: "eth9".into(),
            reroute_virtual_interfaces: "eth1".into(),
            redirect_dns: true,
            dns_servers_v4: vec!["127.0.0.53".into()],
            dns_servers_v6: vec!["::1".into()],
            ..Config::default()
        };
        assert_eq!(config, want);
    }

    #[test]
    fn long_names_are_istios() {
        let (config, _) = parse(&[
            "--envoy-port=1",
            "--inbound-capture-port=2",
            "--inbound-tunnel-port=3",
            "--proxy-uid=4",
            "--proxy-gid=5",
            "--istio-inbound-interception-mode=REDIRECT",
            "--istio-inbound-tproxy-mark=6",
            "--istio-inbound-tproxy-route-table=7",
            "--istio-inbound-ports=8",
            "--istio-local-exclude-ports=9",
            "--istio-service-cidr=*",
            "--istio-service-exclude-cidr=",
            "--istio-outbound-ports=10",
            "--istio-local-outbound-ports-exclude=11",
            "--istio-exclude-interfaces=a",
            "--kube-virt-interfaces=b",
            "--iptables-trace-logging",
        ])
        .unwrap();
        assert_eq!(
            (config.proxy_uid, config.proxy_gid),
            (vec!["4".into()], vec!["5".into()])
        );
        assert_eq!(config.outbound_ip_ranges_include, "*");
        assert!(config.trace_logging);
    }

    #[test]
    fn legacy_defaults_follow_the_script() {
        let (config, flavor) = parse(&["--istio-version", "1.0", "-p", "15999"]).unwrap();
        assert_eq!(flavor, Flavor::Legacy);
        assert_eq!(config.inbound_capture_port, "15999");
        assert_eq!(config.proxy_uid, ["1337", "0"]);
        let (config, _) = parse(&["--istio-version", "1.0", "-u", "999"]).unwrap();
        assert_eq!(
            (config.proxy_uid, config.proxy_gid),
            (vec!["999".into()], vec!["999".into()])
        );
    }

    #[test]
    fn bad_values_are_errors_not_panics() {
        for args in [
            &["--istio-version", "one"][..],
            &["--istio-version", ""],
            &["--istio-version", "1"],
            &["-m", "tproxy"],
            &["-x", "*"],
            &["--dns-server", "resolver"],
        ] {
            assert!(parse(args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn malformed_values_are_refused_naming_the_flag() {
        let cases: &[(&[&str], &str)] = &[
            (&["-p", "abc"], "-p/--envoy-port"),
            (&["-p", "0"], "-p/--envoy-port"),
            (&["-p", "65536"], "-p/--envoy-port"),
            (&["-p", "+80"], "-p/--envoy-port"),
            (&["-z", "15006x"], "-z/--inbound-capture-port"),
            (&["--istio-version", "1.0", "-p", "x"], "-p/--envoy-port"),
            (&["-e", ""], "-e/--inbound-tunnel-port"),
            (&["-u", "1337;rm"], "-u/--proxy-uid"),
            (&["-g", "1,-2"], "-g/--proxy-gid"),
            (&["-t", "0xZZ"], "-t/--istio-inbound-tproxy-mark"),
            (&["-r", "1.5"], "-r/--istio-inbound-tproxy-route-table"),
            (&["-b", "80,http"], "-b/--istio-inbound-ports"),
            (&["-d", "22 23"], "-d/--istio-local-exclude-ports"),
            (&["-i", "10.0.0.0"], "-i/--istio-service-cidr"),
            (&["-i", "10.0.0.0/33"], "-i/--istio-service-cidr"),
            (&["-x", "nope/8"], "-x/--istio-service-exclude-cidr"),
            (&["-q", "1:"], "-q/--istio-outbound-ports"),
            (&["-o", "99999"], "-o/--istio-local-outbound-ports-exclude"),
            (&["-c", "a/b"], "-c/--istio-exclude-interfaces"),
            (&["-k", "averyveryverylongname"], "-k/--kube-virt-interfaces"),
            (&["--owner-groups-include", "a b"], "--owner-groups-include"),
            (&["--owner-groups-exclude", "$x"], "--owner-groups-exclude"),
            (
                &["--host-ipv4-loopback-cidr", "10.0.0.1/32"],
                "--host-ipv4-loopback-cidr",
            ),
            (
                &["--host-ipv4-loopback-cidr", "127.0.0.1/4"],
                "--host-ipv4-loopback-cidr",
            ),
        ];
        for (args, flag) in cases {
            let err = parse(args).expect_err(&format!("{args:?} must be refused"));
            assert!(err.contains(flag), "{args:?}: {err}");
        }
        // Well-formed near misses still pass.
        for args in [
            &["-p", "65535"][..],
            &["-u", "3,4", "-g", "1000-2000,java"],
            &["-t", "0x539", "-r", "133"],
            &["-b", "*", "-d", "22,6000,7000,"],
            &["-i", "*", "-x", "10.0.0.0/8,2001:db8::/32"],
            &["-q", "1000:2000", "-o", "25"],
            &["-c", "eth0,veth+", "-k", "eth1"],
            &[
                "--owner-groups-include",
                "java,202",
                "--owner-groups-exclude",
                "888,ftp",
            ],
            &["--host-ipv4-loopback-cidr", "127.0.0.1/8"],
        ] {
            assert!(parse(args).is_ok(), "{args:?}: {:?}", parse(args));
        }
        assert_eq!(flavor_of("v1.9.0-beta.1"), Ok(Flavor::Commands));
        assert_eq!(flavor_of("1.24rc"), Ok(Flavor::RestoreV1_24));
        assert_eq!(flavor_of("1.25.5"), Ok(Flavor::Restore));
        assert_eq!(flavor_of("master"), Ok(Flavor::Restore));
    }
}
