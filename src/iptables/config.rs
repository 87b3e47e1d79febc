//! The settings istio-iptables takes, kept in the form it takes them.
//!
//! Lists of ports, CIDRs and interfaces stay comma-separated strings, because
//! that is what the tool reads from its flags and from `sidecar.env`, and
//! because the oddities matter for byte-exact output: `6000,7000,` is two
//! ports, not three. [`split`] is Istio's own splitting rule, and every
//! renderer goes through it.

/// How inbound traffic is handed to the proxy (`-m`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum InterceptionMode {
    /// nat-table `REDIRECT`; Istio's default (an empty `-m` means this too).
    #[default]
    Redirect,
    /// mangle-table `TPROXY`, which keeps the original source address.
    Tproxy,
}

/// One istio-iptables run, field for field with Istio's `config.Config`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Config {
    /// `-p`: where outbound traffic is redirected (Envoy's virtualOutbound).
    pub proxy_port: String,
    /// `-z`: where inbound traffic is redirected (Envoy's virtualInbound).
    pub inbound_capture_port: String,
    /// `-e`: the HBONE tunnel port, never captured.
    pub inbound_tunnel_port: String,
    /// `-u`: users whose traffic is never captured (the proxy itself).
    /// Each item may itself be a comma list; all are split as Istio splits.
    pub proxy_uid: Vec<String>,
    /// `-g`: groups whose traffic is never captured.
    pub proxy_gid: Vec<String>,
    /// `-m`.
    pub inbound_interception_mode: InterceptionMode,
    /// `-t`: the packet mark TPROXY sets.
    pub inbound_tproxy_mark: String,
    /// `-r`: the routing table for marked packets. Only the 1.0 script
    /// writes it into its output; later releases set the route in Go.
    pub inbound_tproxy_route_table: String,
    /// `-b`: inbound ports to capture, `*` for all, empty for none.
    pub inbound_ports_include: String,
    /// `-d`: inbound ports to leave alone; only read when `-b` is `*`.
    pub inbound_ports_exclude: String,
    /// `-i`: outbound CIDRs to capture, `*` for all, empty for none.
    pub outbound_ip_ranges_include: String,
    /// `-x`: outbound CIDRs never captured. `*` is rejected by Istio (and by
    /// the CLI); [`generate`](super::generate) treats it as no CIDR at all.
    pub outbound_ip_ranges_exclude: String,
    /// `-q`: outbound ports always captured.
    pub outbound_ports_include: String,
    /// `-o`: outbound ports never captured.
    pub outbound_ports_exclude: String,
    /// `-c`: NICs left out of capture entirely.
    pub exclude_interfaces: String,
    /// `-k`: virtual NICs whose inbound traffic is treated as outbound.
    pub reroute_virtual_interfaces: String,
    /// `--redirect-dns`: send DNS to the agent on port 15053.
    pub redirect_dns: bool,
    /// `--capture-all-dns`: capture every port-53 packet, not only those to
    /// the resolv.conf servers.
    pub capture_all_dns: bool,
    /// The IPv4 `nameserver` lines of the machine's `/etc/resolv.conf`.
    pub dns_servers_v4: Vec<String>,
    /// The IPv6 `nameserver` lines of the machine's `/etc/resolv.conf`.
    pub dns_servers_v6: Vec<String>,
    /// `--drop-invalid`: drop conntrack-INVALID packets instead of resetting.
    pub drop_invalid: bool,
    /// `ISTIO_OUTBOUND_OWNER_GROUPS`: groups whose outbound traffic is
    /// captured; `*` means all.
    pub owner_groups_include: String,
    /// `ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE`: groups left out when the
    /// include list is `*`.
    pub owner_groups_exclude: String,
    /// `ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR`.
    pub host_ipv4_loopback_cidr: String,
    /// Also write ip6tables rules. Istio sets it when the host's first
    /// non-loopback, non-link-local address is IPv6.
    pub enable_ipv6: bool,
    /// `--iptables-trace-logging` (1.23 and before): an NFLOG rule in front
    /// of each rule of interest. Later releases dropped it, so only the
    /// command-line flavor reads it.
    pub trace_logging: bool,
}

impl Default for Config {
    /// Istio's defaults, as its own tests construct them (the base of every
    /// golden), with the proxy user at its usual uid and gid 1337.
    fn default() -> Self {
        Config {
            proxy_port: "15001".into(),
            inbound_capture_port: "15006".into(),
            inbound_tunnel_port: "15008".into(),
            proxy_uid: vec!["1337".into()],
            proxy_gid: vec!["1337".into()],
            inbound_interception_mode: InterceptionMode::Redirect,
            inbound_tproxy_mark: "1337".into(),
            inbound_tproxy_route_table: "133".into(),
            inbound_ports_include: String::new(),
            inbound_ports_exclude: String::new(),
            outbound_ip_ranges_include: String::new(),
            outbound_ip_ranges_exclude: String::new(),
            outbound_ports_include: String::new(),
            outbound_ports_exclude: String::new(),
            exclude_interfaces: String::new(),
            reroute_virtual_interfaces: String::new(),
            redirect_dns: false,
            capture_all_dns: false,
            dns_servers_v4: Vec::new(),
            dns_servers_v6: Vec::new(),
            drop_invalid: false,
            owner_groups_include: "*".into(),
            owner_groups_exclude: String::new(),
            host_ipv4_loopback_cidr: "127.0.0.1/32".into(),
            enable_ipv6: false,
            trace_logging: false,
        }
    }
}

impl Config {
    /// The defaults of Istio 1.0's `istio-iptables.sh`, which differ from the
    /// modern tool's in two ways: inbound capture goes to the Envoy port
    /// (15001), and when no uid is given the script excludes root as well as
    /// the proxy user (`<uid>,0`), for the node agent that ran as root.
    #[must_use]
    pub fn legacy() -> Self {
        let owners = vec!["1337".to_string(), "0".to_string()];
        Config {
            inbound_capture_port: "15001".into(),
            proxy_uid: owners.clone(),
            proxy_gid: owners,
            ..Config::default()
        }
    }
}

/// Istio's `config.Split`: split on commas and drop the empty items, so that
/// `""` is no item and `6000,7000,` is two.
pub(crate) fn split(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').filter(|item| !item.is_empty())
}

/// [`split`] over every item of a list, for the uid and gid lists, which
/// Istio holds as one comma string.
pub(crate) fn split_all(lists: &[String]) -> Vec<&str> {
    lists.iter().flat_map(|list| split(list)).collect()
}

/// Istio's `ParseInterceptFilter` for the owner-group settings.
pub(crate) enum OwnerGroups<'a> {
    /// Include is `*`: capture every group but these.
    AllExcept(Vec<&'a str>),
    /// Capture only these groups.
    Only(Vec<&'a str>),
}

impl<'a> OwnerGroups<'a> {
    pub(crate) fn of(config: &'a Config) -> Self {
        if config.owner_groups_include == "*" {
            OwnerGroups::AllExcept(split(&config.owner_groups_exclude).collect())
        } else {
            OwnerGroups::Only(split(&config.owner_groups_include).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_drops_empty_items_like_istio() {
        assert_eq!(split("6000,7000,").collect::<Vec<_>>(), ["6000", "7000"]);
        assert_eq!(split("").count(), 0);
        assert_eq!(split(",,a,,b").collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn split_all_flattens_comma_items() {
        let uids = vec!["3,4".to_string(), "5".to_string()];
        assert_eq!(split_all(&uids), ["3", "4", "5"]);
    }
}
