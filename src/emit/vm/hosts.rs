//! The VM's `hosts` addendum, and the istiod name and address it points at.
//!
//! `istioctl x workload entry configure` writes one line, `<ingressIP>
//! <istiod host>`, that the operator appends to `/etc/hosts`: istiod is
//! reached through the east-west gateway, and everything else resolves
//! through the agent's DNS proxy. When no gateway address is known the file
//! is written empty (upstream logs a warning). Source: `createHosts` and
//! `IstiodHost` in `istioctl/pkg/workload/workload.go`.
//!
//! Precondition: the namespace and revision are DNS-1123 labels (the check
//! stage guarantees that), so they cannot break the line.

use std::net::IpAddr;

/// The istiod port for XDS and CA on the east-west gateway. Upstream
/// hard-codes it too (`IstiodAddr`, "TODO make port configurable").
pub const ISTIOD_PORT: u16 = 15012;

/// Whether `revision` names a revision: upstream treats both the empty
/// string and `default` as "no revision" (`isRevisioned`).
pub fn is_revisioned(revision: Option<&str>) -> bool {
    revision.is_some_and(|r| !r.is_empty() && r != "default")
}

/// `istiod.<ns>.svc`, or `istiod-<rev>.<ns>.svc` when revisioned.
pub fn istiod_host(istio_namespace: &str, revision: Option<&str>) -> String {
    match revision {
        Some(rev) if is_revisioned(revision) => format!("istiod-{rev}.{istio_namespace}.svc"),
        _ => format!("istiod.{istio_namespace}.svc"),
    }
}

/// `<istiod host>:15012`.
pub fn istiod_addr(istio_namespace: &str, revision: Option<&str>) -> String {
    format!("{}:{ISTIOD_PORT}", istiod_host(istio_namespace, revision))
}

/// The `hosts` file: `<ip> <istiod host>\n`, or empty without an ingress IP.
pub fn hosts(ingress_ip: Option<IpAddr>, istio_namespace: &str, revision: Option<&str>) -> String {
    match ingress_ip {
        Some(ip) => format!("{ip} {}\n", istiod_host(istio_namespace, revision)),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn revisioned_line() {
        let ip = IpAddr::V4(Ipv4Addr::new(10, 10, 10, 11));
        assert_eq!(
            hosts(Some(ip), "istio-system", Some("rev-1")),
            "10.10.10.11 istiod-rev-1.istio-system.svc\n"
        );
    }

    #[test]
    fn ipv6_line_uses_the_canonical_text_form() {
        let ip = IpAddr::V6(Ipv6Addr::new(0xfd00, 0x10, 0x96, 0, 0, 0, 0, 2));
        assert_eq!(
            hosts(Some(ip), "istio-system", Some("rev-1")),
            "fd00:10:96::2 istiod-rev-1.istio-system.svc\n"
        );
    }

    #[test]
    fn empty_and_default_revisions_are_unrevisioned() {
        let ip = IpAddr::V4(Ipv4Addr::new(192, 168, 0, 100));
        for rev in [None, Some(""), Some("default")] {
            assert_eq!(
                hosts(Some(ip), "istio-system", rev),
                "192.168.0.100 istiod.istio-system.svc\n"
            );
            assert_eq!(istiod_addr("istio-system", rev), "istiod.istio-system.svc:15012");
        }
    }

    #[test]
    fn no_ingress_ip_gives_an_empty_file() {
        assert_eq!(hosts(None, "istio-system", Some("rev-1")), "");
    }
}
