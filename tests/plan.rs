//! `meshc plan` over realistic changes to the Bookinfo example: each
//! change's consequences are asserted line by line, and the whole report is
//! held to a snapshot in every format (human, Markdown, JSON). Then the
//! command itself: exit codes, the committed output directory as the base,
//! and `--base-rev` in a scratch git repository.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use meshc::plan::{self, Consequence, Files, Plan};
use meshc::source::Source;
use meshc::syntax::{Limits, Syntax};
use serde_json::Value;

use crate::support::{git, have_tool, prerequisite};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bookinfo() -> String {
    std::fs::read_to_string(root().join("examples/bookinfo-vm/topology.kdl")).unwrap()
}

fn compile(text: &str) -> Files {
    let source = Source::new("topology.kdl", text);
    let (artifacts, diags) = meshc::compile(&source, Syntax::Kdl, Limits::default(), "topology.kdl");
    let artifacts = artifacts.unwrap_or_else(|| panic!("the edited topology does not compile: {diags:#?}"));
    plan::files_of(&artifacts)
}

/// `text` with each `from` (which must occur exactly once) replaced.
fn edit(text: &str, edits: &[(&str, &str)]) -> String {
    let mut text = text.to_owned();
    for (from, to) in edits {
        assert_eq!(text.matches(from).count(), 1, "`{from}` must occur once");
        text = text.replacen(from, to, 1);
    }
    text
}

const ROUTE_SHIFT: &[(&str, &str)] = &[(
    "    route v2-mysql-vm\n",
    "    route v1 weight=20\n    route v2-mysql-vm weight=80\n",
)];

const NEW_CALL: &[(&str, &str)] = &[("calls details reviews", "calls details reviews ratings")];

const REMOVED_VM: &[(&str, &str)] = &[
    (
        "vm ecs-details {\n    address \"192.168.3.201\"\n    network vpc-hangzhou\n    ssh root@192.168.3.201\n}\n",
        "",
    ),
    ("deploy v1 vm=ecs-details", "deploy v1 cluster=ack-hangzhou"),
];

const PORT_CHANGE: &[(&str, &str)] = &[("port tcp 3306", "port tcp 3307")];

const NEW_CLUSTER: &[(&str, &str)] = &[
    (
        "vm ecs-details {\n",
        "network vpc-shanghai {\n    cidr \"10.0.0.0/16\"\n}\n\n\
         cluster ack-shanghai {\n    network vpc-shanghai\n    pod-cidr \"10.0.128.0/17\"\n    \
         service-cidr \"10.1.0.0/20\"\n    kube-dns \"10.1.0.10\"\n    control-plane #true\n    \
         east-west-gateway \"10.0.0.100\"\n}\n\nvm ecs-details {\n",
    ),
    // Two control planes: each VM now names the one it joins (E305).
    (
        "    ssh root@192.168.3.201\n",
        "    cluster ack-hangzhou\n    ssh root@192.168.3.201\n",
    ),
    (
        "    ssh root@192.168.3.202\n",
        "    cluster ack-hangzhou\n    ssh root@192.168.3.202\n",
    ),
    (
        "deploy v1 v2 v3 cluster=ack-hangzhou",
        "deploy v1 v2 cluster=ack-hangzhou\n    deploy v3 cluster=ack-shanghai",
    ),
];

/// The plan of `edits` to Bookinfo, snapshotted in all three formats.
fn scenario(name: &str, edits: &[(&str, &str)]) -> Plan {
    let base = bookinfo();
    let plan = plan::compare(&compile(&base), &compile(&edit(&base, edits)));
    assert!(plan.changed, "{name}: the change is seen");
    let json: Value = serde_json::from_str(&plan::render::json(&plan)).unwrap();
    assert_eq!(json["changed"], true);
    insta::with_settings!({
        snapshot_path => root().join("snapshots/plan"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
        description => format!("meshc plan: examples/bookinfo-vm/topology.kdl, {name}"),
    }, {
        insta::assert_snapshot!(format!("{name}.human"), plan::render::human(&plan));
        insta::assert_snapshot!(format!("{name}.markdown"), plan::render::markdown(&plan));
        insta::assert_snapshot!(format!("{name}.json"), plan::render::json(&plan));
    });
    plan
}

fn texts(plan: &Plan) -> Vec<&str> {
    plan.consequences.iter().map(Consequence::text).collect()
}

/// Each line is one of the plan's consequences, and appears in the human
/// and Markdown reports.
fn assert_consequences(plan: &Plan, lines: &[&str]) {
    let all = texts(plan);
    let human = plan::render::human(plan);
    let markdown = plan::render::markdown(plan);
    for line in lines {
        assert!(all.contains(line), "missing consequence {line:?} in {all:#?}");
        assert!(human.contains(line), "{line:?} not in the human report");
        // Markdown escapes `_`, `*` and backticks; the words are there.
        let first_word = line.split_whitespace().next().unwrap();
        assert!(
            markdown.contains(first_word),
            "{line:?} not in the Markdown report"
        );
    }
}

#[test]
fn route_shift_names_each_version_old_and_new_share() {
    let plan = scenario("route-shift", ROUTE_SHIFT);
    assert_consequences(
        &plan,
        &[
            "bookinfo/ratings v1: 0% → 20%",
            "bookinfo/ratings v2-mysql-vm: 100% → 80%",
        ],
    );
    assert_eq!(plan.consequences.len(), 2, "{:#?}", texts(&plan));
    let json: Value = serde_json::from_str(&plan::render::json(&plan)).unwrap();
    let shift = &json["consequences"][0];
    assert_eq!(shift["kind"], "traffic-shifted");
    assert_eq!(shift["service"], "bookinfo/ratings");
    assert_eq!(shift["version"], "v1");
    assert_eq!(shift["old_percent"], 0);
    assert_eq!(shift["new_percent"], 20);
    // One object changed, in the shared mesh configuration.
    assert_eq!(
        (plan.totals.added, plan.totals.changed, plan.totals.removed),
        (0, 1, 0)
    );
    assert_eq!(plan.scopes[0].kind, "mesh");
    assert_eq!(plan.scopes[0].items[0].label(), "VirtualService bookinfo/ratings");
}

#[test]
fn a_new_call_widens_the_callees_policy_and_the_callers_egress() {
    let plan = scenario("new-call", NEW_CALL);
    assert_consequences(
        &plan,
        &[
            "cluster.local/ns/bookinfo/sa/bookinfo-productpage gains bookinfo/ratings",
            "bookinfo/productpage may now reach bookinfo/ratings.bookinfo.svc.cluster.local",
        ],
    );
    assert!(
        !plan.consequences.iter().any(|c| matches!(
            c,
            Consequence::PolicyNarrowed { .. } | Consequence::TrafficShifted { .. }
        )),
        "{:#?}",
        texts(&plan)
    );
    let json: Value = serde_json::from_str(&plan::render::json(&plan)).unwrap();
    let widened = json["consequences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "policy-widened")
        .unwrap();
    assert_eq!(widened["service"], "bookinfo/ratings");
    assert_eq!(
        widened["principal"],
        "cluster.local/ns/bookinfo/sa/bookinfo-productpage"
    );
}

#[test]
fn a_removed_vm_is_uninstalled_and_its_objects_deleted() {
    let plan = scenario("removed-vm", REMOVED_VM);
    assert_consequences(
        &plan,
        &[
            "vm ecs-details leaves the mesh: run `sudo ./install.sh uninstall` on it from its current bundle before the change is applied",
            "4 object(s) no longer generated, which `kubectl apply` leaves in cluster ack-hangzhou: delete them unless something else now owns them: Service bookinfo/details, ServiceAccount bookinfo/bookinfo-details, WorkloadEntry bookinfo/details-v1-ecs-details, WorkloadGroup bookinfo/details-v1",
        ],
    );
    let vm = plan.scopes.iter().find(|s| s.kind == "vm").unwrap();
    assert_eq!(vm.name, "ecs-details");
    assert_eq!(vm.counts.removed, vm.items.len());
    // The other VM is untouched: nothing to re-install there.
    assert!(
        !plan
            .consequences
            .iter()
            .any(|c| matches!(c, Consequence::VmReinstall { .. }))
    );
}

#[test]
fn a_port_change_shows_in_the_service_the_capture_and_the_reinstall() {
    let plan = scenario("port-change", PORT_CHANGE);
    assert_consequences(
        &plan,
        &[
            "Service bookinfo/mysqldb in cluster ack-hangzhou: ports tcp:3306 → tcp:3307",
            "vm ecs-db: sidecar.env ISTIO_INBOUND_PORTS: 3306 → 3307",
            "vm ecs-db: cluster.env ISTIO_INBOUND_PORTS: 3306 → 3307",
            "vm ecs-db: iptables.rules: + -A ISTIO_INBOUND -p tcp --dport 3307 -j ISTIO_IN_REDIRECT; - -A ISTIO_INBOUND -p tcp --dport 3306 -j ISTIO_IN_REDIRECT",
            "vm ecs-db must be re-installed (cluster.env, iptables.rules, mesh.yaml, sidecar.env changed): copy vms/ecs-db to the VM and run `sudo ./install.sh` there",
        ],
    );
    let service = plan.scopes[0].items.iter().find(|i| i.kind == "Service").unwrap();
    assert_eq!(service.details, ["spec.ports[0].port: 3306 → 3307"]);
}

#[test]
fn a_new_cluster_is_announced_and_the_old_control_plane_learns_its_network() {
    let plan = scenario("new-cluster", NEW_CLUSTER);
    let all = texts(&plan);
    assert_consequences(
        &plan,
        &["cluster ack-shanghai is new: install its control plane and apply its objects as RUNBOOK.md says"],
    );
    let cp = plan
        .consequences
        .iter()
        .find_map(|c| match c {
            Consequence::ControlPlane {
                cluster,
                file,
                changes,
                command,
                ..
            } => Some((cluster, file, changes, command)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no control-plane consequence in {all:#?}"));
    assert_eq!(cp.0, "ack-hangzhou");
    assert_eq!(cp.1, "istiod-values.yaml");
    assert!(
        cp.2.iter().any(
            |c| c.key == "global.meshNetworks.vpc-shanghai.gateways[0].address"
                && c.new.as_deref() == Some("10.0.0.100")
        ),
        "{:#?}",
        cp.2
    );
    assert_eq!(
        cp.3,
        "helm upgrade istiod istio/istiod --kube-context ack-hangzhou -n istio-system -f control-plane/ack-hangzhou/istiod-values.yaml"
    );
    let new = plan.scopes.iter().find(|s| s.name == "ack-shanghai").unwrap();
    assert_eq!(new.counts.added, new.items.len());
}

#[test]
fn a_changed_identity_asks_for_new_credentials_and_a_rebootstrap() {
    let base = bookinfo();
    let new = edit(
        &base,
        &[(
            "    port tcp 3306\n",
            "    service-account mariadb\n    port tcp 3306\n",
        )],
    );
    let plan = plan::compare(&compile(&base), &compile(&new));
    let reinstall = plan
        .consequences
        .iter()
        .find_map(|c| match c {
            Consequence::VmReinstall {
                vm,
                reason,
                command,
                text,
                ..
            } => Some((vm, reason, command, text)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{:#?}", texts(&plan)));
    assert_eq!(reinstall.0, "ecs-db");
    assert_eq!(reinstall.1, "identity");
    assert!(
        reinstall.3.contains("its identity changed (SERVICE_ACCOUNT)"),
        "{}",
        reinstall.3
    );
    assert_eq!(
        reinstall.2,
        "run `vms/ecs-db/fetch-credentials.sh --context ack-hangzhou`, copy vms/ecs-db to the VM, run `sudo ./install.sh`, then `sudo ./install.sh rebootstrap` there"
    );
}

#[test]
fn the_same_mesh_is_no_change_and_plans_are_deterministic() {
    let base = compile(&bookinfo());
    let plan = plan::compare(&base, &base);
    assert!(!plan.changed);
    assert!(plan.consequences.is_empty() && plan.scopes.is_empty());
    let json: Value = serde_json::from_str(&plan::render::json(&plan)).unwrap();
    assert_eq!(json["changed"], false);
    assert_eq!(json["totals"]["added"], 0);
    // Same inputs, same bytes, whichever scenario.
    let new = compile(&edit(&bookinfo(), PORT_CHANGE));
    let a = plan::render::json(&plan::compare(&base, &new));
    let b = plan::render::json(&plan::compare(&base, &new));
    assert_eq!(a, b);
}

#[test]
fn the_json_report_has_its_documented_fields() {
    let base = bookinfo();
    let plan = plan::compare(&compile(&base), &compile(&edit(&base, REMOVED_VM)));
    let json: Value = serde_json::from_str(&plan::render::json(&plan)).unwrap();
    for field in ["changed", "totals", "scopes", "consequences"] {
        assert!(json.get(field).is_some(), "no `{field}`");
    }
    for field in ["added", "changed", "removed"] {
        assert!(json["totals"][field].is_u64(), "totals.{field}");
    }
    for scope in json["scopes"].as_array().unwrap() {
        for field in ["scope", "name", "added", "changed", "removed", "items"] {
            assert!(scope.get(field).is_some(), "scope without `{field}`: {scope}");
        }
        for item in scope["items"].as_array().unwrap() {
            for field in ["change", "kind", "namespace", "name", "file", "details"] {
                assert!(item.get(field).is_some(), "item without `{field}`: {item}");
            }
        }
    }
    for c in json["consequences"].as_array().unwrap() {
        assert!(c["kind"].is_string() && c["text"].is_string(), "{c}");
    }
}

// ---- the command ----

fn meshc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn exit_codes_say_no_change_change_or_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("topology.kdl"), bookinfo()).unwrap();
    assert_eq!(
        meshc(d, &["build", "topology.kdl", "-o", "out"]).status.code(),
        Some(0)
    );

    let same = meshc(d, &["plan", "topology.kdl", "-o", "out"]);
    assert_eq!(same.status.code(), Some(0), "{same:?}");
    assert!(stdout(&same).starts_with("No changes"));

    std::fs::write(d.join("topology.kdl"), edit(&bookinfo(), ROUTE_SHIFT)).unwrap();
    for format in ["human", "markdown", "json"] {
        let changed = meshc(d, &["plan", "topology.kdl", "-o", "out", "--format", format]);
        assert_eq!(changed.status.code(), Some(1), "{changed:?}");
        assert!(
            stdout(&changed).contains("bookinfo/ratings v1: 0% → 20%"),
            "{format}"
        );
    }
    // The output directory was only read.
    assert_eq!(
        meshc(d, &["build", "--check", "topology.kdl", "-o", "out"])
            .status
            .code(),
        Some(1)
    );

    // Not yet built: everything is new.
    let fresh = meshc(d, &["plan", "topology.kdl", "-o", "never-built"]);
    assert_eq!(fresh.status.code(), Some(1));
    assert!(stdout(&fresh).contains("vm ecs-db joins the mesh"));

    // A topology with errors gets its diagnostics, and 2.
    std::fs::write(
        d.join("broken.kdl"),
        edit(&bookinfo(), &[("deploy v1 vm=ecs-db", "deploy v1 vm=ecs-dbx")]),
    )
    .unwrap();
    let broken = meshc(d, &["plan", "broken.kdl", "--base", "topology.kdl"]);
    assert_eq!(broken.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&broken.stderr).contains("E301"),
        "{broken:?}"
    );
    assert!(broken.stdout.is_empty());
    // So does a base with errors, and a directory meshc did not write.
    let bad_base = meshc(d, &["plan", "topology.kdl", "--base", "broken.kdl"]);
    assert_eq!(bad_base.status.code(), Some(2));
    std::fs::create_dir(d.join("foreign")).unwrap();
    std::fs::write(d.join("foreign/x.yaml"), "a: 1\n").unwrap();
    assert_eq!(
        meshc(d, &["plan", "topology.kdl", "-o", "foreign"]).status.code(),
        Some(2)
    );
    // No base at all is a usage error.
    assert_eq!(meshc(d, &["plan", "topology.kdl"]).status.code(), Some(2));
}

#[test]
fn base_rev_reads_the_topology_at_a_git_revision() {
    if !prerequisite(have_tool("git"), "git is not installed") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    git(repo, &["init", "-q"]);
    std::fs::create_dir(repo.join("mesh")).unwrap();
    let file = repo.join("mesh/topology.kdl");
    std::fs::write(&file, bookinfo()).unwrap();
    git(repo, &["add", "."]);
    git(repo, &["commit", "-q", "-m", "base"]);
    // Run from the repository's root and from the file's directory alike.
    let unchanged = meshc(repo, &["plan", "mesh/topology.kdl", "--base-rev", "HEAD"]);
    assert_eq!(unchanged.status.code(), Some(0), "{unchanged:?}");
    std::fs::write(&file, edit(&bookinfo(), NEW_CALL)).unwrap();
    let changed = meshc(
        &repo.join("mesh"),
        &["plan", "topology.kdl", "--base-rev", "HEAD", "--format", "json"],
    );
    assert_eq!(changed.status.code(), Some(1), "{changed:?}");
    let json: Value = serde_json::from_str(&stdout(&changed)).unwrap();
    assert!(
        json["consequences"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["kind"] == "policy-widened"),
        "{json}"
    );
    // A revision that does not exist, or that looks like an option.
    let missing = meshc(repo, &["plan", "mesh/topology.kdl", "--base-rev", "no-such-rev"]);
    assert_eq!(missing.status.code(), Some(2));
    let option = meshc(repo, &["plan", "mesh/topology.kdl", "--base-rev=--output=/tmp/x"]);
    assert_eq!(option.status.code(), Some(2));
}
