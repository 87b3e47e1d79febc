//! Name resolution on a VM without the agent's DNS proxy: the dnsmasq file
//! (installed as `/etc/dnsmasq.d/kubedns`, the name Istio 1.0's
//! `setupIstioVM.sh` used) and the `hosts` lines of each flow.
//!
//! * **Legacy** (`dns dnsmasq`, and `dns capture`, which 1.0 had no agent
//!   for): the 11 lines `setupMeshEx.sh generateDnsmasq` wrote
//!   (`istio-formats.md` §c.1): `svc.<domain>` forwarded to kube-dns through
//!   its internal load balancer, and the control-plane names answered with
//!   the pilot, mixer and citadel ILB addresses. With `dns hosts`, the same
//!   control-plane names as `/etc/hosts` lines instead.
//! * **Modern** `dns dnsmasq`: one `server=/svc.<domain>/<kube-dns>` line.
//!   Which kube-dns address a VM can reach is the question, and the
//!   topology offers one only: the kube-dns ClusterIP (`ilb` is legacy-only,
//!   the east-west gateway exposes istiod and mTLS passthrough, not DNS). A
//!   ClusterIP exists only inside the cluster, and the sidecar captures TCP,
//!   not the UDP dnsmasq sends, so `check` refuses this mode (E804) and
//!   this file is never written for a checked topology. DNS capture (the
//!   default) needs no route: the agent answers from istiod's name table.
//! * **Modern** `hosts`: istiod's name → the home cluster's east-west
//!   gateway (`istioctl x workload entry configure`'s one line), whatever the
//!   DNS mode: even with DNS capture the agent must find istiod before it
//!   has a DNS table.
//!
//! Domains and namespaces reach these files unquoted (neither format has
//! quoting): they come as [`DnsName`]s, which only `check` makes, after
//! proving them DNS names.

use std::net::IpAddr;

use super::hosts::hosts;
use super::text::{comment_text, header};
use crate::check::DnsName;
use crate::model::Cluster;

/// Where the dnsmasq file is installed.
pub const PATH: &str = "/etc/dnsmasq.d/kubedns";

/// The legacy `kubedns` file, or `None` when the cluster declares no
/// internal load balancers (there is then nothing reachable to point at).
/// `domain` is `svc.<the cluster's domain>`.
pub fn kubedns(
    cluster: &Cluster,
    domain: &DnsName,
    istio_namespace: &DnsName,
    vm: &str,
    source_name: &str,
) -> Option<String> {
    let ilbs = cluster.ilbs.as_ref()?;
    let (dns, pilot, mixer, citadel) = (
        ilbs.kube_dns.value,
        ilbs.pilot.value,
        ilbs.mixer.value,
        ilbs.citadel.value,
    );
    let mut out = header(source_name);
    out.push_str(&format!(
        "#\n\
         # dnsmasq on VM {vm}, installed as {PATH}: Istio 1.0's kubedns file for\n\
         # cluster {cluster}, pointing at its mesh-expansion internal load balancers.\n",
        vm = comment_text(vm),
        cluster = comment_text(&cluster.name.value),
    ));
    out.push_str(&format!("server=/{domain}/{dns}\n"));
    let names: [(&str, IpAddr); 5] = [
        ("istio-policy", mixer),
        ("istio-telemetry", mixer),
        ("istio-pilot", pilot),
        ("istio-citadel", citadel),
        // "Deprecated. For backward compatibility" upstream, kept as 1.0 wrote it.
        ("istio-ca", citadel),
    ];
    for (name, ip) in names {
        out.push_str(&format!("address=/{name}/{ip}\n"));
    }
    for (name, ip) in names {
        out.push_str(&format!("address=/{name}.{istio_namespace}/{ip}\n"));
    }
    Some(out)
}

/// The modern dnsmasq file, or `None` when the cluster declares no kube-dns
/// address. `domain` is `svc.<the cluster's domain>`.
pub fn forward(cluster: &Cluster, domain: &DnsName, vm: &str, source_name: &str) -> Option<String> {
    let address = cluster.kube_dns.as_ref()?.value;
    let mut out = header(source_name);
    out.push_str(&format!(
        "#\n\
         # dnsmasq on VM {vm}, installed as {PATH}: names under {domain} go to\n\
         # kube-dns of cluster {cluster} at its ClusterIP {address}. The VM reaches it only\n\
         # if its network routes the cluster's service range to the nodes: the sidecar\n\
         # captures TCP, not the UDP dnsmasq sends.\n",
        vm = comment_text(vm),
        cluster = comment_text(&cluster.name.value),
    ));
    out.push_str(&format!("server=/{domain}/{address}\n"));
    Some(out)
}

/// The legacy `hosts` lines (`dns hosts`): the names of the kubedns
/// `address=` lines, one line per ILB. `None` without internal load balancers.
pub fn legacy_hosts(cluster: &Cluster, istio_namespace: &DnsName, source_name: &str) -> Option<String> {
    let ilbs = cluster.ilbs.as_ref()?;
    let groups: [(IpAddr, &[&str]); 3] = [
        (ilbs.pilot.value, &["istio-pilot"]),
        (ilbs.mixer.value, &["istio-policy", "istio-telemetry"]),
        (ilbs.citadel.value, &["istio-citadel", "istio-ca"]),
    ];
    let mut out = header(source_name);
    for (ip, names) in groups {
        out.push_str(&ip.to_string());
        for name in names {
            out.push(' ');
            out.push_str(name);
        }
        for name in names {
            out.push_str(&format!(" {name}.{istio_namespace}"));
        }
        out.push('\n');
    }
    Some(out)
}

/// The modern `hosts` file: the header, then `<gateway> istiod[-<rev>].<ns>.svc`
/// (nothing when the cluster has no east-west gateway, as istioctl writes an
/// empty file without an ingress address).
pub fn modern_hosts(
    gateway: Option<IpAddr>,
    istio_namespace: &DnsName,
    revision: Option<&DnsName>,
    source_name: &str,
) -> String {
    let mut out = header(source_name);
    out.push_str(&hosts(
        gateway,
        istio_namespace.as_str(),
        revision.map(DnsName::as_str),
    ));
    out
}
