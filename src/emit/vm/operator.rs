//! The operator's side of a VM bundle: scripts run on the operator's
//! machine, with `kubectl` on the VM's home cluster, never on the VM.
//!
//! * `fetch-credentials.sh` fetches the VM's bootstrap credentials into the
//!   bundle directory, as `istioctl x workload entry configure` writes them
//!   beside `cluster.env`: in the WorkloadEntry flow a service-account token
//!   for istiod's CA (`istio-token`, audience `istio-ca`) and the mesh root
//!   certificate (`root-cert.pem`, from ConfigMap `istio-ca-root-cert`); in
//!   the legacy flow Citadel's key and certificates (secret `istio.<sa>`), as
//!   `setupMeshEx.sh machineCerts … all` did. Only the operator needs the
//!   right to mint tokens, not every VM. `install.sh` installs what it finds.
//!   The files are never generated, so they are in no output manifest; the
//!   writer keeps files it did not write, and the bundle's `.gitignore`
//!   ([`gitignore`]) keeps them out of git.
//! * `check-ilbs.sh` (legacy flow, with `ilb`): reads each internal load
//!   balancer's `status.loadBalancer.ingress[0].ip`, as `setupMeshEx.sh
//!   generateDnsmasq` did (retrying while the cloud assigns them), and
//!   compares it with the address the bundle's dnsmasq or hosts file pins:
//!   `loadBalancerIP` is only a request, which a cloud may ignore.
//!
//! Both take kubectl's own flags first (`--context NAME`, `--kubeconfig F`).
//! Every value from the topology is single-quoted in one block at the top.

use super::plan::VmPlan;
use super::quote::posix_single_quote as q;
use super::text::{comment_text, header};
use crate::model::Flow;

/// The credential files `fetch-credentials.sh` writes into the bundle.
pub fn credential_files(flow: Flow) -> &'static [&'static str] {
    match flow {
        Flow::Modern => &["istio-token", "root-cert.pem"],
        Flow::Legacy => &["root-cert.pem", "cert-chain.pem", "key.pem"],
    }
}

/// The bundle's `.gitignore`: its credential files.
pub fn gitignore(plan: &VmPlan<'_>, source_name: &str) -> String {
    let mut out = header(source_name);
    out.push_str("# Credentials fetch-credentials.sh writes here: never commit them.\n");
    for file in credential_files(plan.flow) {
        out.push('/');
        out.push_str(file);
        out.push('\n');
    }
    out
}

/// `fetch-credentials.sh`.
pub fn fetch_credentials_sh(plan: &VmPlan<'_>, source_name: &str) -> String {
    let vm = &plan.vm.name.value;
    let cluster = plan.home.name.value.as_str();
    let mut out = String::from("#!/usr/bin/env bash\n");
    out.push_str(&header(source_name));
    let what = match plan.flow {
        Flow::Modern => {
            "# a token for istiod's CA (istio-token, audience istio-ca, valid\n\
             # MESHC_TOKEN_DURATION, default 1h, as istioctl) and the mesh root\n\
             # certificate (root-cert.pem),"
        }
        Flow::Legacy => "# Citadel's root-cert.pem, cert-chain.pem and key.pem (secret istio.<sa>),",
    };
    out.push_str(&format!(
        "#\n\
         # Fetches the credentials of VM {vm_comment} into this directory, on the\n\
         # operator's machine, with kubectl on cluster {cluster_comment}:\n\
         {what}\n\
         # as `istioctl x workload entry configure` does. Then copy the directory to\n\
         # the VM and run install.sh (or, after an outage longer than the\n\
         # certificate's lifetime, install.sh rebootstrap).\n\
         #\n\
         #   fetch-credentials.sh [KUBECTL FLAGS...]    e.g. --context {cluster_comment}\n\
         #\n\
         # meshc never writes these files: a rebuild keeps them, and .gitignore\n\
         # keeps them out of git.\n\
         set -euo pipefail\n\n\
         here=$(cd -- \"$(dirname -- \"${{BASH_SOURCE[0]}}\")\" && pwd)\n\
         namespace={namespace}\n\
         service_account={sa}\n\n\
         die() {{\n\
         \tprintf 'fetch-credentials.sh: %s\\n' \"$*\" >&2\n\
         \texit 1\n\
         }}\n\n\
         # save FILE MODE TEXT: written whole or not at all.\n\
         save() {{\n\
         \t[ -n \"$3\" ] || die \"kubectl returned nothing for $1\"\n\
         \t(umask 077 && printf '%s\\n' \"$3\" >\"$here/.$1.tmp\")\n\
         \tchmod \"$2\" -- \"$here/.$1.tmp\"\n\
         \tmv -f -- \"$here/.$1.tmp\" \"$here/$1\"\n\
         \tprintf 'wrote %s\\n' \"$here/$1\"\n\
         }}\n\n\
         command -v kubectl >/dev/null 2>&1 || die 'kubectl not found'\n",
        vm_comment = comment_text(vm),
        cluster_comment = comment_text(cluster),
        namespace = q(plan.identity.namespace.as_str()),
        sa = q(plan.identity.service_account.as_str()),
    ));
    out.push_str(match plan.flow {
        Flow::Modern => {
            r#"duration=${MESHC_TOKEN_DURATION:-1h}
text=$(kubectl "$@" -n "$namespace" create token "$service_account" --audience istio-ca --duration "$duration")
save istio-token 0600 "$text"
text=$(kubectl "$@" -n "$namespace" get configmap istio-ca-root-cert -o 'jsonpath={.data.root-cert\.pem}')
save root-cert.pem 0644 "$text"
"#
        }
        Flow::Legacy => {
            r#"for key in root-cert.pem cert-chain.pem key.pem; do
	text=$(kubectl "$@" -n "$namespace" get secret "istio.$service_account" -o "jsonpath={.data.${key//./\\.}}" | base64 -d)
	mode=0644
	if [ "$key" = key.pem ]; then
		mode=0600
	fi
	save "$key" "$mode" "$text"
done
"#
        }
    });
    out
}

/// `check-ilbs.sh`, for a legacy VM whose home cluster declares `ilb`.
pub fn check_ilbs_sh(plan: &VmPlan<'_>, source_name: &str) -> Option<String> {
    let home = plan.home;
    let ilbs = home.ilbs.as_ref()?;
    let cp = plan.mesh.control_plane_namespace();
    let mut out = String::from("#!/usr/bin/env bash\n");
    out.push_str(&header(source_name));
    out.push_str(&format!(
        "#\n\
         # Checks, with kubectl on cluster {cluster}, that each internal load\n\
         # balancer got the address the files of VM {vm} point at: its\n\
         # status.loadBalancer.ingress[0].ip, as setupMeshEx.sh generateDnsmasq read\n\
         # it. loadBalancerIP only asks the cloud for an address. Run it after\n\
         # applying the cluster's manifests; it retries while an address is pending\n\
         # (MESHC_ILB_ATTEMPTS, default 20, every MESHC_ILB_DELAY seconds, default\n\
         # 30). Exit status 1 when an address differs or never came.\n\
         #\n\
         #   check-ilbs.sh [KUBECTL FLAGS...]    e.g. --context {cluster}\n\
         set -euo pipefail\n\n\
         attempts=${{MESHC_ILB_ATTEMPTS:-20}}\n\
         delay=${{MESHC_ILB_DELAY:-30}}\n\
         command -v kubectl >/dev/null 2>&1 || {{\n\
         \tprintf 'check-ilbs.sh: kubectl not found\\n' >&2\n\
         \texit 1\n\
         }}\n\n\
         failed=0\n\n\
         # check NAMESPACE SERVICE ADDRESS [KUBECTL FLAGS...]\n\
         check() {{\n\
         \tlocal namespace=$1 service=$2 want=$3 got='' i\n\
         \tshift 3\n\
         \tfor ((i = 1; i <= attempts; i++)); do\n\
         \t\tgot=$(kubectl \"$@\" -n \"$namespace\" get service \"$service\" -o 'jsonpath={{.status.loadBalancer.ingress[0].ip}}') || got=''\n\
         \t\tif [ -n \"$got\" ] || [ \"$i\" -eq \"$attempts\" ]; then\n\
         \t\t\tbreak\n\
         \t\tfi\n\
         \t\tprintf 'waiting for %s/%s to get an address\\n' \"$namespace\" \"$service\"\n\
         \t\tsleep \"$delay\"\n\
         \tdone\n\
         \tif [ \"$got\" = \"$want\" ]; then\n\
         \t\tprintf 'ok %s/%s: %s\\n' \"$namespace\" \"$service\" \"$got\"\n\
         \telse\n\
         \t\tprintf 'MISMATCH %s/%s: the cloud assigned %s, the topology pins %s: set that address in its ilb line and rebuild, or free the pinned one\\n' \\\n\
         \t\t\t\"$namespace\" \"$service\" \"${{got:-nothing}}\" \"$want\" >&2\n\
         \t\tfailed=1\n\
         \tfi\n\
         }}\n\n",
        cluster = comment_text(&home.name.value),
        vm = comment_text(&plan.vm.name.value),
    ));
    // The Services legacy.rs writes, with the addresses dnsmasq and hosts use.
    let checks = [
        (cp, "istio-pilot-ilb", ilbs.pilot.value),
        (cp, "mixer-ilb", ilbs.mixer.value),
        (cp, "citadel-ilb", ilbs.citadel.value),
        ("kube-system", "dns-ilb", ilbs.kube_dns.value),
    ];
    for (namespace, service, address) in checks {
        out.push_str(&format!(
            "check {} {} {} \"$@\"\n",
            q(namespace),
            q(service),
            q(&address.to_string())
        ));
    }
    out.push_str("exit \"$failed\"\n");
    Some(out)
}
