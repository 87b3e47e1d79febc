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
//! quoting), so a line whose name is not a DNS name ([`is_dns_name`]) is
//! left out, with a comment saying so; `check` rejects such names first.

use std::net::IpAddr;

use super::hosts::hosts;
use super::text::{comment_text, header, is_dns_name};
use crate::model::Cluster;

/// Where the dnsmasq file is installed.
pub const PATH: &str = "/etc/dnsmasq.d/kubedns";

const LEFT_OUT: &str = "# meshc: a line is left out here because a name in it is not a DNS name.\n";

/// The legacy `kubedns` file, or `None` when the cluster declares no
/// internal load balancers (there is then nothing reachable to point at).
pub fn kubedns(cluster: &Cluster, istio_namespace: &str, vm: &str, source_name: &str) -> Option<String> {
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
    let mut lines = Vec::new();
    let domain = format!("svc.{}", cluster.cluster_domain());
    lines.push(is_dns_name(&domain).then(|| format!("server=/{domain}/{dns}")));
    let names: [(&str, IpAddr); 5] = [
        ("istio-policy", mixer),
        ("istio-telemetry", mixer),
        ("istio-pilot", pilot),
        ("istio-citadel", citadel),
        // "Deprecated. For backward compatibility" upstream, kept as 1.0 wrote it.
        ("istio-ca", citadel),
    ];
    for (name, ip) in names {
        lines.push(Some(format!("address=/{name}/{ip}")));
    }
    let namespaced = is_dns_name(istio_namespace);
    for (name, ip) in names {
        lines.push(namespaced.then(|| format!("address=/{name}.{istio_namespace}/{ip}")));
    }
    push_lines(&mut out, lines);
    Some(out)
}

/// The modern dnsmasq file, or `None` when the cluster declares no kube-dns
/// address.
pub fn forward(cluster: &Cluster, vm: &str, source_name: &str) -> Option<String> {
    let address = cluster.kube_dns.as_ref()?.value;
    let mut out = header(source_name);
    let domain = format!("svc.{}", cluster.cluster_domain());
    out.push_str(&format!(
        "#\n\
         # dnsmasq on VM {vm}, installed as {PATH}: names under {domain} go to\n\
         # kube-dns of cluster {cluster} at its ClusterIP {address}. The VM reaches it only\n\
         # if its network routes the cluster's service range to the nodes: the sidecar\n\
         # captures TCP, not the UDP dnsmasq sends.\n",
        vm = comment_text(vm),
        domain = comment_text(&domain),
        cluster = comment_text(&cluster.name.value),
    ));
    push_lines(
        &mut out,
        vec![is_dns_name(&domain).then(|| format!("server=/{domain}/{address}"))],
    );
    Some(out)
}

/// The legacy `hosts` lines (`dns hosts`): the names of the kubedns
/// `address=` lines, one line per ILB. `None` without internal load balancers.
pub fn legacy_hosts(cluster: &Cluster, istio_namespace: &str, source_name: &str) -> Option<String> {
    let ilbs = cluster.ilbs.as_ref()?;
    let groups: [(IpAddr, &[&str]); 3] = [
        (ilbs.pilot.value, &["istio-pilot"]),
        (ilbs.mixer.value, &["istio-policy", "istio-telemetry"]),
        (ilbs.citadel.value, &["istio-citadel", "istio-ca"]),
    ];
    let namespaced = is_dns_name(istio_namespace);
    let mut lines = Vec::new();
    for (ip, names) in groups {
        let mut line = ip.to_string();
        for name in names {
            line.push(' ');
            line.push_str(name);
        }
        if namespaced {
            for name in names {
                line.push_str(&format!(" {name}.{istio_namespace}"));
            }
        }
        lines.push(Some(line));
    }
    if !namespaced {
        lines.push(None);
    }
    let mut out = header(source_name);
    push_lines(&mut out, lines);
    Some(out)
}

/// The modern `hosts` file: the header, then `<gateway> istiod[-<rev>].<ns>.svc`
/// (nothing when the cluster has no east-west gateway, as istioctl writes an
/// empty file without an ingress address).
pub fn modern_hosts(
    gateway: Option<IpAddr>,
    istio_namespace: &str,
    revision: Option<&str>,
    source_name: &str,
) -> String {
    let mut out = header(source_name);
    let names_ok = is_dns_name(istio_namespace) && revision.is_none_or(|r| r.is_empty() || is_dns_name(r));
    if names_ok {
        out.push_str(&hosts(gateway, istio_namespace, revision));
    } else {
        out.push_str(LEFT_OUT);
    }
    out
}

/// Each line that could be written, then one comment if any was left out.
fn push_lines(out: &mut String, lines: Vec<Option<String>>) {
    let mut left_out = false;
    for line in lines {
        match line {
            Some(line) => {
                out.push_str(&line);
                out.push('\n');
            }
            None => left_out = true,
        }
    }
    if left_out {
        out.push_str(LEFT_OUT);
    }
}
