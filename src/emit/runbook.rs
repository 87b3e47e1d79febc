//! `RUNBOOK.md` and `runbook.sh`: the order in which a person turns the
//! artifacts into a running mesh, for this topology.
//!
//! The runbook is written last, from the list of every other artifact, and
//! names a file only when that list holds it (the control-plane install
//! values, a VM's credentials helper): what it tells a person to apply is
//! always something the build wrote. Where a file is not emitted the step
//! says what to pass instead (Helm `--set` values). A test holds every path
//! the two files name to the build's output.
//!
//! Steps: the shared root CA and remote secrets (multi-primary), the
//! control plane of each control-plane cluster (Helm, with istioctl as the
//! alternative, of the topology's exact release), the network labels, each
//! cluster's objects then the shared mesh objects, each VM (the sidecar
//! package of that release, the bundle, `install.sh`, credentials), then
//! the checks and what they should print. The script runs the mechanical
//! steps (`runbook.sh STEP`); kubectl contexts are named after the clusters
//! unless `KUBE_CONTEXT_<CLUSTER>` says otherwise. Every interpolated value
//! is a name, address or SSH target `check` validated, and is single-quoted
//! in the script all the same.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::ops::Bound;

use crate::artifact::{Artifact, Mode};
use crate::check::Checked;
use crate::check::ClusterId;
use crate::emit::vm::quote::posix_single_quote as q;
use crate::model::{Flow, Topology};

pub const MARKDOWN: &str = "RUNBOOK.md";
pub const SCRIPT: &str = "runbook.sh";

/// The Helm chart repository of Istio's releases.
const HELM_REPO: &str = "https://istio-release.storage.googleapis.com/charts";

/// Both files, given the paths of every other artifact of the build.
pub fn emit(checked: &Checked, source_name: &str, paths: &BTreeSet<&str>) -> Vec<Artifact> {
    let book = Book::new(checked, paths);
    vec![
        Artifact {
            path: MARKDOWN.to_owned(),
            contents: crate::emit::exact(book.markdown(source_name)),
            mode: Mode::Regular,
        },
        Artifact {
            path: SCRIPT.to_owned(),
            contents: crate::emit::exact(book.script(source_name)),
            mode: Mode::Executable,
        },
    ]
}

/// What both files are written from.
struct Book<'a> {
    topo: &'a Topology,
    checked: &'a Checked,
    paths: &'a BTreeSet<&'a str>,
    /// Control-plane clusters, by index.
    planes: Vec<ClusterId>,
}

/// The release as written, and whether it names a patch release.
fn version(topo: &Topology) -> (String, bool) {
    let v = topo.mesh.istio.value;
    (v.to_string(), v.patch.is_some())
}

impl<'a> Book<'a> {
    fn new(checked: &'a Checked, paths: &'a BTreeSet<&'a str>) -> Book<'a> {
        let topo = checked.topology();
        let ix = checked.index();
        let planes = if ix.control_planes.is_empty() {
            topo.cluster_ids().map(|(c, _)| c).collect()
        } else {
            ix.control_planes.clone()
        };
        Book {
            topo,
            checked,
            paths,
            planes,
        }
    }

    fn has(&self, path: &str) -> bool {
        self.paths.contains(path)
    }

    fn has_dir(&self, dir: &str) -> bool {
        // The paths are sorted: the first one at or after `dir/` is in the
        // directory if any is (one lookup, not a scan per VM and cluster).
        let prefix = format!("{dir}/");
        self.paths
            .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
            .next()
            .is_some_and(|p| p.starts_with(&prefix))
    }

    fn cluster(&self, c: ClusterId) -> &'a str {
        self.topo.clusters[c].name.value.as_str()
    }

    fn multi_network(&self) -> bool {
        let nets: BTreeSet<&str> = self
            .topo
            .clusters
            .iter()
            .map(|c| c.network.value.as_str())
            .chain(self.topo.vms.iter().map(|v| v.network.value.as_str()))
            .collect();
        nets.len() > 1
    }

    /// `helm install` of istiod in cluster `c`: with the emitted values
    /// file, or the `--set` values the VMs depend on.
    fn istiod_values(&self, c: ClusterId) -> Vec<String> {
        let file = format!("control-plane/{}/istiod-values.yaml", self.cluster(c));
        if self.has(&file) {
            return vec![format!("-f {file}")];
        }
        self.istiod_sets(c)
    }

    /// The values the VMs depend on, as `--set` arguments of the chart.
    fn istiod_sets(&self, c: ClusterId) -> Vec<String> {
        let cluster = &self.topo.clusters[c];
        let mut out = Vec::new();
        if let Some(id) = &self.topo.mesh.mesh_id {
            out.push(format!("--set global.meshID={}", id.value));
        }
        out.push(format!(
            "--set global.multiCluster.clusterName={}",
            cluster.cluster_id()
        ));
        out.push(format!("--set global.network={}", cluster.network.value));
        if let Some(rev) = &self.topo.mesh.revision {
            out.push(format!("--set revision={}", rev.value));
        }
        out
    }

    fn eastwest_values(&self, c: ClusterId) -> Vec<String> {
        let file = format!("control-plane/{}/eastwest-gateway-values.yaml", self.cluster(c));
        if self.has(&file) {
            return vec![format!("-f {file}")];
        }
        let net = self.topo.clusters[c].network.value.as_str();
        vec![
            "--set labels.istio=eastwestgateway".to_owned(),
            format!("--set networkGateway={net}"),
        ]
    }

    /// The VMs' (name, home cluster index, ssh target).
    fn vms(&self) -> Vec<(&'a str, ClusterId, Option<&'a str>)> {
        let homes = &self.checked.proven().vm_home;
        self.topo
            .vm_ids()
            .map(|(v, vm)| {
                (
                    vm.name.value.as_str(),
                    homes[v],
                    vm.ssh.as_ref().map(|s| s.value.as_str()),
                )
            })
            .collect()
    }

    fn sidecar_package_url(&self) -> String {
        let (v, exact) = version(self.topo);
        let v = if exact { v } else { "${ISTIO_VERSION}".to_owned() };
        format!("https://storage.googleapis.com/istio-release/releases/{v}/deb/istio-sidecar.deb")
    }

    fn markdown(&self, source_name: &str) -> String {
        let topo = self.topo;
        let mesh = &topo.mesh.name.value;
        let (v, exact) = version(topo);
        let cp = topo.mesh.control_plane_namespace();
        let mut md = String::new();
        md.push_str(&crate::emit::vm::text::html_header(source_name));
        let _ = writeln!(md, "# Runbook: mesh `{mesh}`, Istio {v}\n");
        md.push_str(
            "Follow the steps in order, from the directory this file is in. `./runbook.sh STEP`\n\
             runs the mechanical ones. kubectl contexts are taken to be named after the\n\
             clusters; set `KUBE_CONTEXT_<CLUSTER>` (upper case, `-` as `_`) where they are not.\n\n",
        );
        if exact {
            let _ = writeln!(
                md,
                "Istio release: **{v}**, for the charts, istioctl and the VM package alike.\n"
            );
        } else {
            let _ = writeln!(
                md,
                "The topology names the release line {v} only: set `ISTIO_VERSION` to the exact\n\
                 {v}.x patch release the clusters run (`runbook.sh` refuses anything else), and use\n\
                 that release for the charts, istioctl and the VM package alike.\n"
            );
        }
        let mut step = 0;
        let mut heading = |md: &mut String, title: &str| {
            step += 1;
            let _ = writeln!(md, "## {step}. {title}\n");
        };
        if topo.mesh.flow() == Flow::Legacy {
            self.legacy_markdown(&mut md, &mut heading);
            return md;
        }
        if self.planes.len() > 1 {
            heading(&mut md, "A shared root CA (multi-primary; `runbook.sh ca`)");
            md.push_str(
                "Every control plane must sign with the same root, or the clusters will not\n\
                 trust each other's workloads. meshc cannot make keys; from the extracted\n\
                 `istio-<version>` release directory:\n\n```sh\nmkdir -p certs && cd certs\n\
                 make -f ../tools/certs/Makefile.selfsigned.mk root-ca\n",
            );
            for &c in &self.planes {
                let _ = writeln!(
                    md,
                    "make -f ../tools/certs/Makefile.selfsigned.mk {}-cacerts",
                    self.cluster(c)
                );
            }
            for &c in &self.planes {
                let n = self.cluster(c);
                let _ = writeln!(md, "kubectl --context {n} create namespace {cp}");
                let _ = writeln!(
                    md,
                    "kubectl --context {n} create secret generic cacerts -n {cp} \\\n    \
                     --from-file={n}/ca-cert.pem --from-file={n}/ca-key.pem \\\n    \
                     --from-file={n}/root-cert.pem --from-file={n}/cert-chain.pem"
                );
            }
            md.push_str("```\n\n");
        }
        heading(&mut md, "The control plane (`runbook.sh control-plane`)");
        let _ = writeln!(
            md,
            "In each control-plane cluster, with Helm (the charts of release {v}):\n"
        );
        md.push_str("```sh\n");
        let _ = writeln!(md, "helm repo add istio {HELM_REPO}\nhelm repo update");
        for &c in &self.planes {
            let n = self.cluster(c);
            let ver = if exact {
                v.clone()
            } else {
                "\"$ISTIO_VERSION\"".to_owned()
            };
            let _ = writeln!(
                md,
                "helm install istio-base istio/base --kube-context {n} -n {cp} --create-namespace --version {ver}"
            );
            let _ = writeln!(
                md,
                "helm install istiod istio/istiod --kube-context {n} -n {cp} --version {ver} \\\n    {} --wait",
                self.istiod_values(c).join(" ")
            );
            if topo.clusters[c].east_west_gateway.is_some() {
                let _ = writeln!(
                    md,
                    "helm install istio-eastwestgateway istio/gateway --kube-context {n} -n {cp} --version {ver} \\\n    {}",
                    self.eastwest_values(c).join(" ")
                );
            }
        }
        md.push_str("```\n\nOr with istioctl of the same release:\n\n```sh\n");
        for &c in &self.planes {
            let n = self.cluster(c);
            let sets: Vec<String> = self
                .istiod_sets(c)
                .into_iter()
                .map(|s| s.replace("--set ", "--set values."))
                .collect();
            let _ = writeln!(md, "istioctl install -y --context {n} {}", sets.join(" "));
            if topo.clusters[c].east_west_gateway.is_some() {
                let iop = format!("control-plane/{n}/eastwest-gateway.iop.yaml");
                if self.has(&iop) {
                    let _ = writeln!(md, "istioctl install -y --context {n} -f {iop}");
                } else {
                    let net = topo.clusters[c].network.value.as_str();
                    let _ = writeln!(
                        md,
                        "samples/multicluster/gen-eastwest-gateway.sh --network {net} | istioctl install -y --context {n} -f -"
                    );
                }
            }
        }
        md.push_str("```\n\n");
        for &c in &self.planes {
            if let Some(ew) = topo.clusters[c].east_west_gateway.as_ref() {
                let _ = writeln!(
                    md,
                    "The east-west gateway of `{}` must get the address {} (its Service's load\n\
                     balancer address): the VMs reach istiod there.\n",
                    self.cluster(c),
                    ew.value
                );
            }
        }
        self.ingress_markdown(&mut md);
        if self.multi_network() {
            heading(&mut md, "Network labels (`runbook.sh networks`)");
            md.push_str("Each cluster's control-plane namespace names the cluster's network:\n\n```sh\n");
            for cluster in &topo.clusters {
                let _ = writeln!(
                    md,
                    "kubectl --context {} label namespace {cp} topology.istio.io/network={} --overwrite",
                    cluster.name.value, cluster.network.value
                );
            }
            md.push_str("```\n\n");
        }
        if self.planes.len() > 1 {
            heading(
                &mut md,
                "Remote secrets (multi-primary; `runbook.sh remote-secrets`)",
            );
            md.push_str("Each istiod watches the other clusters' API servers:\n\n```sh\n");
            for &a in &self.planes {
                for &b in &self.planes {
                    if a != b {
                        let (a, b) = (self.cluster(a), self.cluster(b));
                        let _ = writeln!(
                            md,
                            "istioctl create-remote-secret --context {a} --name {a} | kubectl apply --context {b} -f -"
                        );
                    }
                }
            }
            md.push_str("```\n\n");
        }
        self.apply_markdown(&mut md, &mut heading);
        self.vm_markdown(&mut md, &mut heading);
        self.verify_markdown(&mut md, &mut heading);
        md
    }

    fn ingress_markdown(&self, md: &mut String) {
        md.push_str(
            "Ingress: entry points admit these gateways' identities only; install them as declared:\n\n",
        );
        if self.topo.mesh.ingresses.is_empty() {
            let cp = self.topo.mesh.control_plane_namespace();
            let _ = writeln!(
                md,
                "- `istio-ingressgateway` in `{cp}`, istioctl's default profile (`istioctl install` above installs it; with Helm, `helm install istio-ingressgateway istio/gateway -n {cp}` runs as another account: declare `mesh {{ ingress … kind=helm }}` instead).\n"
            );
            return;
        }
        for i in &self.topo.mesh.ingresses {
            let ns = i.namespace(&self.topo.mesh);
            let name = &i.name.value;
            let how = match i.kind() {
                crate::model::IngressKind::Istioctl => {
                    format!("an istioctl gateway (`ingressGateways` name `{name}`)")
                }
                crate::model::IngressKind::Helm => {
                    format!("`helm install {name} istio/gateway -n {ns} --create-namespace`")
                }
                crate::model::IngressKind::GatewayApi => {
                    format!("a Gateway API `Gateway` named `{name}` (`gatewayClassName: istio`)")
                }
            };
            let _ = writeln!(
                md,
                "- `{name}` in `{ns}`: {how}, running as `{}`.",
                i.service_account()
            );
        }
        md.push('\n');
    }

    fn apply_markdown(&self, md: &mut String, heading: &mut impl FnMut(&mut String, &str)) {
        heading(md, "The mesh's objects (`runbook.sh apply`)");
        md.push_str("Each cluster's own objects first (they create the namespaces), then the shared\nIstio configuration in every control-plane cluster:\n\n```sh\n");
        for cluster in &self.topo.clusters {
            let dir = format!("kubernetes/clusters/{}", cluster.name.value);
            if self.has_dir(&dir) {
                let _ = writeln!(md, "kubectl --context {} apply -R -f {dir}", cluster.name.value);
            }
        }
        if self.has_dir("kubernetes/mesh") {
            for &c in &self.planes {
                let _ = writeln!(
                    md,
                    "kubectl --context {} apply -R -f kubernetes/mesh",
                    self.cluster(c)
                );
            }
        }
        md.push_str("```\n\n");
    }

    fn vm_markdown(&self, md: &mut String, heading: &mut impl FnMut(&mut String, &str)) {
        for (vm, home, ssh) in self.vms() {
            let dir = format!("vms/{vm}");
            if !self.has_dir(&dir) {
                continue;
            }
            heading(md, &format!("VM `{vm}` (`runbook.sh vm {vm}`)"));
            let home = self.cluster(home);
            let target = ssh.unwrap_or("<the VM>");
            let url = self.sidecar_package_url();
            let helper = format!("{dir}/fetch-credentials.sh");
            let fetch = self.has(&helper);
            if fetch {
                let _ = writeln!(
                    md,
                    "Fetch the VM's credentials into its bundle (on a workstation with access to\n\
                     `{home}`), install the sidecar package of the mesh's exact release, copy the\n\
                     bundle and run `install.sh` as root:\n"
                );
            } else {
                let _ = writeln!(
                    md,
                    "Install the sidecar package of the mesh's exact release, copy the bundle and run\n\
                     `install.sh` as root:\n"
                );
            }
            md.push_str("```sh\n");
            if fetch {
                let _ = writeln!(md, "{helper} --context {home}");
            }
            let _ = writeln!(
                md,
                "ssh {target} \"curl -fsSLo istio-sidecar.deb {url} && sudo dpkg -i istio-sidecar.deb\"\n\
                 tar -C {dir} -cf - . | ssh {target} 'mkdir -p meshc-{vm} && tar -C meshc-{vm} --no-same-owner -xf -'\n\
                 ssh {target} 'cd meshc-{vm} && sudo ./install.sh'\n```\n"
            );
            if fetch {
                if self.topo.mesh.flow() == Flow::Modern {
                    md.push_str(
                        "The token is short-lived (`MESHC_TOKEN_DURATION`, default 1h): run `install.sh`\n\
                         within that time.\n",
                    );
                } else {
                    md.push_str(
                        "The bundle now holds the workload's private key: keep it off shared disks.\n",
                    );
                }
                let _ = writeln!(
                    md,
                    "The bundle's contents are copied into `meshc-{vm}` in place,\n\
                     so the same commands update a VM after a rebuild.\n"
                );
            } else {
                let _ = writeln!(
                    md,
                    "`install.sh` then prints the kubectl commands (against `{home}`) that fetch its\n\
                     credentials; run them, or `sudo ./install.sh --fetch-credentials` where the VM\n\
                     has kubectl access, then `sudo systemctl restart istio`.\n"
                );
            }
        }
    }

    fn verify_markdown(&self, md: &mut String, heading: &mut impl FnMut(&mut String, &str)) {
        heading(md, "Verify (`runbook.sh verify`)");
        let ix = self.checked.index();
        md.push_str("```sh\n");
        for &c in &self.planes {
            let n = self.cluster(c);
            let _ = writeln!(md, "istioctl proxy-status --context {n}");
        }
        md.push_str("```\n\nshould list every VM's workload as `SYNCED`:\n\n");
        for (v, vm) in self.topo.vm_ids() {
            for &w in &ix.vm_workloads[v] {
                let wl = &ix.workloads[w];
                let svc = &self.topo.services[wl.service];
                let _ = writeln!(
                    md,
                    "- `{}` ({}-{} in `{}`), from {}",
                    vm.name.value, svc.name.value, wl.version, svc.namespace.value, vm.address.value
                );
            }
        }
        md.push_str("\nOn each VM, `systemctl is-active istio` prints `active` and\n`curl -s -o /dev/null -w '%{http_code}\\n' localhost:15021/healthz/ready` prints `200`.\n\n");
        if self.has(crate::emit::prometheus::PATH) {
            let _ = writeln!(
                md,
                "Metrics: add the job in `{}` to Prometheus; `up{{job=\"istio-vm-sidecars-{}\"}}` is 1 for every VM.\n",
                crate::emit::prometheus::PATH,
                self.topo.mesh.name.value
            );
        }
    }

    fn legacy_markdown(&self, md: &mut String, heading: &mut impl FnMut(&mut String, &str)) {
        let (v, _) = version(self.topo);
        let auth = if self.topo.mesh.data_plane_mtls() {
            "istio-demo-auth.yaml"
        } else {
            "istio-demo.yaml"
        };
        heading(md, "The control plane (`runbook.sh control-plane`)");
        let _ = writeln!(
            md,
            "From the extracted `istio-{v}` release directory, in each control-plane cluster\n\
             (`{auth}`: the topology {} mutual TLS between workloads):\n\n```sh",
            if self.topo.mesh.data_plane_mtls() {
                "turns on"
            } else {
                "does not turn on"
            }
        );
        for &c in &self.planes {
            let n = self.cluster(c);
            let _ = writeln!(
                md,
                "kubectl --context {n} apply -f install/kubernetes/helm/istio/templates/crds.yaml"
            );
            let _ = writeln!(md, "kubectl --context {n} apply -f install/kubernetes/{auth}");
        }
        md.push_str("```\n\n");
        self.apply_markdown(md, heading);
        self.vm_markdown(md, heading);
        heading(md, "Verify (`runbook.sh verify`)");
        md.push_str("On each VM, `systemctl is-active istio` prints `active`, and each cluster's\n`kubectl get svc -n istio-system istio-pilot-ilb` shows the address the topology gives.\n");
    }

    fn script(&self, source_name: &str) -> String {
        let topo = self.topo;
        let (v, exact) = version(topo);
        let cp = topo.mesh.control_plane_namespace();
        let mut s = String::new();
        s.push_str("#!/usr/bin/env bash\n");
        s.push_str(&crate::emit::vm::text::header(source_name));
        s.push_str("# The mechanical steps of RUNBOOK.md: ./runbook.sh STEP [ARG]. Run from its directory.\nset -euo pipefail\ncd \"$(dirname \"$0\")\"\n\n");
        let _ = writeln!(s, "line={}", q(&v));
        // A release line takes any patch of it; a patch release only itself.
        let pattern = if exact {
            let _ = writeln!(s, "version=\"${{ISTIO_VERSION:-$line}}\"");
            "\"$line\""
        } else {
            s.push_str("version=\"${ISTIO_VERSION:-}\"\n");
            "\"$line\".*"
        };
        // The legacy steps name no control-plane namespace.
        if topo.mesh.flow() == Flow::Modern {
            let _ = writeln!(s, "cp={}", q(cp));
        }
        let _ = write!(
            s,
            "\ncheck_version() {{\n\tcase \"$version\" in\n\t{pattern}) ;;\n"
        );
        s.push_str(
            "\t*)\n\t\techo \"set ISTIO_VERSION to the exact $line release the clusters run (got '$version')\" >&2\n\t\texit 2\n\t\t;;\n\tesac\n}\n\n\
             # The kubectl context of a cluster: KUBE_CONTEXT_<CLUSTER>, else its name.\ncontext() {\n\tlocal var\n\tvar=\"KUBE_CONTEXT_$(printf '%s' \"$1\" | tr 'a-z-' 'A-Z_')\"\n\tprintf '%s' \"${!var:-$1}\"\n}\n\n",
        );
        let legacy = topo.mesh.flow() == Flow::Legacy;
        // control-plane
        s.push_str("step_control_plane() {\n\tcheck_version\n");
        if legacy {
            let auth = if topo.mesh.data_plane_mtls() {
                "istio-demo-auth.yaml"
            } else {
                "istio-demo.yaml"
            };
            s.push_str("\t: \"${ISTIO_DIR:?set ISTIO_DIR to the extracted istio-$version release}\"\n");
            for &c in &self.planes {
                let n = q(self.cluster(c));
                let _ = writeln!(
                    s,
                    "\tkubectl --context \"$(context {n})\" apply -f \"$ISTIO_DIR/install/kubernetes/helm/istio/templates/crds.yaml\""
                );
                let _ = writeln!(
                    s,
                    "\tkubectl --context \"$(context {n})\" apply -f \"$ISTIO_DIR/install/kubernetes/{auth}\""
                );
            }
        } else {
            let _ = writeln!(
                s,
                "\thelm repo add istio {} >/dev/null 2>&1 || true\n\thelm repo update",
                q(HELM_REPO)
            );
            for &c in &self.planes {
                let n = q(self.cluster(c));
                let _ = writeln!(
                    s,
                    "\thelm upgrade --install istio-base istio/base --kube-context \"$(context {n})\" -n \"$cp\" --create-namespace --version \"$version\""
                );
                let args: Vec<String> = self.istiod_values(c).iter().flat_map(|a| split_arg(a)).collect();
                let _ = writeln!(
                    s,
                    "\thelm upgrade --install istiod istio/istiod --kube-context \"$(context {n})\" -n \"$cp\" --version \"$version\" {} --wait",
                    args.join(" ")
                );
                if topo.clusters[c].east_west_gateway.is_some() {
                    let args: Vec<String> = self
                        .eastwest_values(c)
                        .iter()
                        .flat_map(|a| split_arg(a))
                        .collect();
                    let _ = writeln!(
                        s,
                        "\thelm upgrade --install istio-eastwestgateway istio/gateway --kube-context \"$(context {n})\" -n \"$cp\" --version \"$version\" {}",
                        args.join(" ")
                    );
                }
            }
        }
        s.push_str("}\n\n");
        if !legacy && self.planes.len() > 1 {
            s.push_str("step_ca() {\n\t: \"${ISTIO_DIR:?set ISTIO_DIR to the extracted istio-$version release}\"\n\tmkdir -p certs\n\t(\n\t\tcd certs\n\t\tmake -f \"$ISTIO_DIR/tools/certs/Makefile.selfsigned.mk\" root-ca\n");
            for &c in &self.planes {
                let _ = writeln!(
                    s,
                    "\t\tmake -f \"$ISTIO_DIR/tools/certs/Makefile.selfsigned.mk\" {}",
                    q(&format!("{}-cacerts", self.cluster(c)))
                );
            }
            s.push_str("\t)\n");
            for &c in &self.planes {
                let n = q(self.cluster(c));
                let _ = writeln!(
                    s,
                    "\tkubectl --context \"$(context {n})\" create namespace \"$cp\" 2>/dev/null || true"
                );
                let _ = writeln!(
                    s,
                    "\tkubectl --context \"$(context {n})\" create secret generic cacerts -n \"$cp\" --from-file=certs/{n}/ca-cert.pem --from-file=certs/{n}/ca-key.pem --from-file=certs/{n}/root-cert.pem --from-file=certs/{n}/cert-chain.pem"
                );
            }
            s.push_str("}\n\nstep_remote_secrets() {\n");
            for &a in &self.planes {
                for &b in &self.planes {
                    if a != b {
                        let (a, b) = (q(self.cluster(a)), q(self.cluster(b)));
                        let _ = writeln!(
                            s,
                            "\tistioctl create-remote-secret --context \"$(context {a})\" --name {a} | kubectl apply --context \"$(context {b})\" -f -"
                        );
                    }
                }
            }
            s.push_str("}\n\n");
        }
        if !legacy && self.multi_network() {
            s.push_str("step_networks() {\n");
            for cluster in &topo.clusters {
                let _ = writeln!(
                    s,
                    "\tkubectl --context \"$(context {})\" label namespace \"$cp\" {} --overwrite",
                    q(&cluster.name.value),
                    q(&format!("topology.istio.io/network={}", cluster.network.value))
                );
            }
            s.push_str("}\n\n");
        }
        s.push_str("step_apply() {\n");
        for cluster in &topo.clusters {
            let dir = format!("kubernetes/clusters/{}", cluster.name.value);
            if self.has_dir(&dir) {
                let _ = writeln!(
                    s,
                    "\tkubectl --context \"$(context {})\" apply -R -f {}",
                    q(&cluster.name.value),
                    q(&dir)
                );
            }
        }
        if self.has_dir("kubernetes/mesh") {
            for &c in &self.planes {
                let _ = writeln!(
                    s,
                    "\tkubectl --context \"$(context {})\" apply -R -f kubernetes/mesh",
                    q(self.cluster(c))
                );
            }
        }
        s.push_str("\t:\n}\n\n");
        // vm
        s.push_str("step_vm() {\n\tcheck_version\n\tlocal vm=\"${1:?usage: runbook.sh vm NAME}\" target dir home\n\tcase \"$vm\" in\n");
        for (vm, home, ssh) in self.vms() {
            let dir = format!("vms/{vm}");
            if !self.has_dir(&dir) {
                continue;
            }
            let target = match ssh {
                Some(t) => q(t),
                None => "\"${VM_SSH:?set VM_SSH to the [user@]host of VM $vm}\"".to_owned(),
            };
            // `home` names the cluster whose kubectl fetches the credentials;
            // empty where the bundle has no fetch-credentials.sh.
            let home = if self.has(&format!("{dir}/fetch-credentials.sh")) {
                q(self.cluster(home))
            } else {
                "''".to_owned()
            };
            let _ = writeln!(s, "\t{}) target={target} dir={} home={home} ;;", q(vm), q(&dir));
        }
        s.push_str("\t*)\n\t\techo \"unknown VM: $vm\" >&2\n\t\texit 2\n\t\t;;\n\tesac\n");
        s.push_str(
            "\t# Credentials first: the bundle carries them to the VM, and install.sh\n\
             \t# enables the sidecar only once they are in place.\n\
             \tif [ -n \"$home\" ]; then\n\
             \t\t\"$dir/fetch-credentials.sh\" --context \"$(context \"$home\")\"\n\
             \tfi\n",
        );
        let url = "https://storage.googleapis.com/istio-release/releases/$version/deb/istio-sidecar.deb";
        let _ = writeln!(
            s,
            "\t# shellcheck disable=SC2029 # expanded here on purpose: the version and VM name are this side's\n\tssh \"$target\" \"curl -fsSLo istio-sidecar.deb {url} && sudo dpkg -i istio-sidecar.deb\""
        );
        s.push_str(
            "\t# The bundle's contents into meshc-$vm, in place on a rerun (scp -r would\n\
             \t# nest the new bundle inside the old one and leave the old install.sh).\n\
             \t# shellcheck disable=SC2029\n\
             \ttar -C \"$dir\" -cf - . | ssh \"$target\" \"mkdir -p meshc-$vm && tar -C meshc-$vm --no-same-owner -xf -\"\n",
        );
        s.push_str(
            "\t# shellcheck disable=SC2029\n\tssh \"$target\" \"cd meshc-$vm && sudo ./install.sh\"\n}\n\n",
        );
        s.push_str("step_verify() {\n");
        if !legacy {
            for &c in &self.planes {
                let _ = writeln!(
                    s,
                    "\tistioctl proxy-status --context \"$(context {})\"",
                    q(self.cluster(c))
                );
            }
        }
        for (vm, _, ssh) in self.vms() {
            if let Some(t) = ssh {
                let _ = writeln!(
                    s,
                    "\tprintf '%s: ' {}\n\tssh {} 'systemctl is-active istio'",
                    q(vm),
                    q(t)
                );
            }
        }
        s.push_str("\t:\n}\n\n");
        let mut steps = vec!["control-plane"];
        if !legacy && self.planes.len() > 1 {
            steps.splice(0..0, ["ca"]);
            steps.push("remote-secrets");
        }
        if !legacy && self.multi_network() {
            steps.push("networks");
        }
        steps.extend(["apply", "vm", "verify"]);
        let _ = writeln!(s, "case \"${{1:-}}\" in");
        for st in &steps {
            let _ = writeln!(s, "{st}) shift; step_{} \"$@\" ;;", st.replace('-', "_"));
        }
        let _ = writeln!(
            s,
            "*)\n\techo \"usage: $0 {{{}}} [ARG]\" >&2\n\texit 2\n\t;;\nesac",
            steps.join("|")
        );
        s
    }
}

/// A `--set k=v` / `-f file` argument as separate, single-quoted words.
fn split_arg(arg: &str) -> Vec<String> {
    match arg.split_once(' ') {
        Some((flag, value)) => vec![flag.to_owned(), q(value)],
        None => vec![arg.to_owned()],
    }
}
