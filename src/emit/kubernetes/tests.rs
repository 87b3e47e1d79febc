//! Unit tests of the Kubernetes emitter on small inline topologies: each
//! pins one decision of the module documentation. The examples' full output
//! is covered by the snapshots in `tests/kubernetes.rs`.

use std::collections::BTreeMap;

use super::emit;
use crate::source::Source;
use crate::syntax::{Limits, Syntax};

/// Checks and emits a KDL topology; path → contents.
fn build(text: &str) -> BTreeMap<String, String> {
    let source = Source::new("t.kdl", text);
    let (checked, diags) = crate::check_source(&source, Syntax::Kdl, Limits::default());
    let Some(checked) = checked else {
        panic!("the test topology does not check: {diags:#?}");
    };
    emit(&checked, "t.kdl")
        .into_iter()
        .map(|a| (a.path, a.contents))
        .collect()
}

/// What control-plane cluster `cluster` applies as `rel` (`<ns>/<file>`):
/// its own file followed by the shared one under `mesh/`, either of which
/// may be missing, not both.
fn applied(out: &BTreeMap<String, String>, cluster: &str, rel: &str) -> String {
    let own = out.get(&format!("kubernetes/clusters/{cluster}/{rel}"));
    let shared = out.get(&format!("kubernetes/mesh/{rel}"));
    if own.is_none() && shared.is_none() {
        panic!(
            "no {rel} for {cluster}; files: {:#?}",
            out.keys().collect::<Vec<_>>()
        );
    }
    format!(
        "{}{}",
        own.map_or("", String::as_str),
        shared.map_or("", String::as_str)
    )
}

const MESH_1_24: &str = r#"
mesh m {
    istio "1.24"
}
network n1 { cidr "10.0.0.0/16"; }
cluster c1 {
    network n1
    control-plane #true
    east-west-gateway "10.0.0.100"
}
vm db1 { address "10.0.5.1"; network n1; }
vm db2 { address "10.0.5.2"; network n1; }
namespace shop
"#;

#[test]
fn autoregistering_vms_get_a_group_but_no_entry() {
    let out = build(&format!(
        "{MESH_1_24}\nvm db3 {{ address \"10.0.5.3\"; network n1; autoregister #true; }}\n\
         service db namespace=shop {{ port tcp 5432; deploy v1 vm=db1; deploy v1 vm=db3; }}"
    ));
    let db = applied(&out, "c1", "shop/service-db.yaml");
    assert_eq!(db.matches("kind: WorkloadGroup").count(), 1, "{db}");
    assert!(db.contains("name: db-v1-db1"), "{db}");
    assert!(
        !db.contains("db-v1-db3"),
        "an auto-registered VM must not get a WorkloadEntry:\n{db}"
    );
}

#[test]
fn service_entry_registration_keeps_a_selectorless_service_for_dns() {
    let out = build(&format!(
        "{MESH_1_24}\nservice db namespace=shop {{ port tcp 5432 target-port=15432; deploy v1 vm=db1; \
         registration service-entry; }}"
    ));
    let db = applied(&out, "c1", "shop/service-db.yaml");
    // kube-dns answers only for Services: one without a selector, so that
    // the ServiceEntry's WorkloadEntries are its only endpoints.
    let service = db
        .split("---\n")
        .find(|d| d.contains("kind: Service\n"))
        .unwrap_or_else(|| panic!("no Service beside the ServiceEntry:\n{db}"));
    assert!(!service.contains("selector"), "{service}");
    for want in [
        "kind: ServiceEntry",
        "- db.shop.svc.cluster.local",
        "location: MESH_INTERNAL",
        "resolution: STATIC",
        "workloadSelector:\n    labels:\n      app: db",
        "targetPort: 15432",
        "tcp: 15432",
    ] {
        assert!(db.contains(want), "missing {want:?}:\n{db}");
    }
}

#[test]
fn a_revision_selects_its_injector_and_its_istiod() {
    let text = MESH_1_24.replace("istio \"1.24\"", "istio \"1.24\"\n    revision \"1-24\"");
    let out = build(&format!(
        "{text}\nservice db namespace=shop {{ port tcp 5432; deploy v1 vm=db1; }}"
    ));
    let ns = applied(&out, "c1", "shop/namespace.yaml");
    assert!(ns.contains("istio.io/rev: 1-24"), "{ns}");
    assert!(!ns.contains("istio-injection"), "{ns}");
    let me = applied(&out, "c1", "istio-system/mesh-expansion.yaml");
    for want in [
        "name: istiod-vs-1-24",
        "- istiod-1-24.istio-system.svc\n",
        "- istiod-1-24.istio-system.svc.cluster.local",
        "host: istiod-1-24.istio-system.svc.cluster.local",
    ] {
        assert!(me.contains(want), "missing {want:?}:\n{me}");
    }
}

#[test]
fn least_privilege_follows_the_mesh_and_namespace_settings() {
    let services = "service a namespace=shop { port http 80; deploy v1 cluster=c1; calls b; }\n\
                    service b namespace=shop { port http 80; deploy v1 vm=db1; }\n\
                    service c namespace=ops { port http 80; deploy v1 vm=db2; }";
    let on = build(&format!("{MESH_1_24}\n{services}"));
    assert!(applied(&on, "c1", "shop/service-b.yaml").contains("kind: AuthorizationPolicy"));
    assert!(applied(&on, "c1", "ops/service-c.yaml").contains("kind: Sidecar"));

    let off = MESH_1_24.replace("istio \"1.24\"", "istio \"1.24\"\n    least-privilege #false");
    let off = off.replace("namespace shop", "namespace shop { least-privilege #true; }");
    let out = build(&format!("{off}\n{services}"));
    assert!(applied(&out, "c1", "shop/service-b.yaml").contains("kind: AuthorizationPolicy"));
    let c = applied(&out, "c1", "ops/service-c.yaml");
    assert!(
        !c.contains("kind: Sidecar") && !c.contains("kind: AuthorizationPolicy"),
        "{c}"
    );
}

#[test]
fn policies_allow_exactly_the_declared_callers() {
    let out = build(&format!(
        "{MESH_1_24}\n\
         service web namespace=shop {{ port http 80; deploy v1 cluster=c1; calls api; entry-point #true; }}\n\
         service api namespace=shop {{ port http 80; deploy v1 cluster=c1; calls db; service-account api-sa; }}\n\
         service db namespace=shop {{ port tcp 5432; deploy v1 vm=db1; }}\n\
         service lonely namespace=shop {{ port http 80; deploy v1 vm=db2; }}"
    ));
    let web = applied(&out, "c1", "shop/service-web.yaml");
    assert!(
        web.contains("- cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"),
        "an entry point admits the ingress gateway:\n{web}"
    );
    assert!(
        web.contains("- istio-system/*\n    - shop/api.shop.svc.cluster.local\n"),
        "{web}"
    );
    let db = applied(&out, "c1", "shop/service-db.yaml");
    let principals: Vec<&str> = db
        .lines()
        .filter(|l| l.trim_start().starts_with("- cluster.local/"))
        .collect();
    assert_eq!(principals, ["        - cluster.local/ns/shop/sa/api-sa"], "{db}");
    let lonely = applied(&out, "c1", "shop/service-lonely.yaml");
    let policy = lonely
        .split("---\n")
        .find(|d| d.contains("kind: AuthorizationPolicy"))
        .expect("policy");
    assert!(
        policy.contains("action: ALLOW") && !policy.contains("rules"),
        "no caller: allow nothing\n{policy}"
    );
}

#[test]
fn vm_service_accounts_follow_the_one_rule() {
    let out = build(&format!(
        "{MESH_1_24}\nvm db4 {{ address \"10.0.5.4\"; network n1; service-account vm-sa; }}\n\
         service db namespace=shop {{ port tcp 5432; deploy v1 vm=db1; deploy v1 vm=db4; service-account db-sa; }}\n\
         service cache namespace=shop {{ port tcp 6379; deploy v1 vm=db2; }}"
    ));
    let ns = applied(&out, "c1", "shop/namespace.yaml");
    for sa in ["name: vm-sa", "name: db-sa", "name: cache"] {
        assert!(ns.contains(sa), "missing ServiceAccount {sa}:\n{ns}");
    }
    // One version on one network with two identities: two groups.
    let db = applied(&out, "c1", "shop/service-db.yaml");
    assert!(
        db.contains("name: db-v1-n1-db-sa") || db.contains("name: db-v1-db-sa"),
        "{db}"
    );
    assert!(db.contains("name: db-v1-vm-sa"), "{db}");
}

#[test]
fn registrations_go_where_the_service_runs_or_is_called() {
    let out = build(
        r#"
mesh m { istio "1.24"; }
network n1 { cidr "10.1.0.0/16"; }
network n2 { cidr "10.2.0.0/16"; }
cluster c1 { network n1; control-plane #true; east-west-gateway "10.1.0.100"; }
cluster c2 { network n2; control-plane #true; east-west-gateway "10.2.0.100"; }
cluster c3 { network n2; control-plane #true; }
vm v1 { address "10.1.5.1"; network n1; cluster c1; }
service db namespace=shop { port tcp 5432; deploy v1 vm=v1; }
service api namespace=shop { port http 80; deploy v1 cluster=c2; calls db; }
"#,
    );
    let db1 = applied(&out, "c1", "shop/service-db.yaml");
    assert!(
        db1.contains("kind: WorkloadEntry") && db1.contains("kind: Service\n"),
        "{db1}"
    );
    let db2 = applied(&out, "c2", "shop/service-db.yaml");
    assert!(
        db2.contains("kind: Service\n"),
        "the caller's cluster resolves the name:\n{db2}"
    );
    assert!(
        !db2.contains("kind: WorkloadEntry"),
        "entries live in the VM's home cluster:\n{db2}"
    );
    assert!(
        !out.contains_key("kubernetes/clusters/c3/shop/service-db.yaml"),
        "c3 neither runs nor calls db"
    );
    let db3 = applied(&out, "c3", "shop/service-db.yaml");
    assert!(
        db3.contains("kind: AuthorizationPolicy"),
        "config goes to every control plane, through mesh/:\n{db3}"
    );
    assert!(
        applied(&out, "c3", "shop/namespace.yaml").contains("kind: Namespace"),
        "c3 creates the namespace mesh/'s objects live in"
    );
    // Multi-network: every gateway exposes services, every control-plane
    // namespace carries its network.
    for c in ["c1", "c2"] {
        let me = applied(&out, c, "istio-system/mesh-expansion.yaml");
        assert!(
            me.contains("name: cross-network-gateway") && me.contains("name: istiod-gateway"),
            "{me}"
        );
    }
    assert!(
        !out.contains_key("kubernetes/clusters/c3/istio-system/mesh-expansion.yaml"),
        "c3 has no gateway"
    );
    let ns = applied(&out, "c3", "istio-system/namespace.yaml");
    assert!(
        ns.contains("topology.istio.io/network: n2") && !ns.contains("injection"),
        "{ns}"
    );
}

#[test]
fn routes_pick_http_or_tcp_lists_by_protocol() {
    let out = build(&format!(
        "{MESH_1_24}\n\
         service db namespace=shop {{ port tcp 5432; deploy v1 vm=db1; deploy v2 vm=db2; \
         route v1 weight=90; route v2 weight=10; }}"
    ));
    let db = applied(&out, "c1", "shop/service-db.yaml");
    let vs = db
        .split("---\n")
        .find(|d| d.contains("kind: VirtualService"))
        .expect("vs");
    assert!(vs.contains("  tcp:\n") && !vs.contains("  http:\n"), "{vs}");
    assert!(vs.contains("weight: 90") && vs.contains("weight: 10"), "{vs}");
}

#[test]
fn legacy_versions_write_v1alpha3_and_no_policies() {
    let out = build(
        r#"
mesh m { istio "1.0.0"; }
network n1 { cidr "10.0.0.0/16"; }
cluster c1 {
    network n1
    control-plane #true
    ilb pilot="10.0.0.50" mixer="10.0.0.51" citadel="10.0.0.52" kube-dns="10.0.0.53"
    ilb-annotation gke
}
vm db1 { address "10.0.5.1"; network n1; }
vm db2 { address "10.0.5.2"; network n1; }
service db namespace=shop { port tcp 5432 target-port=15432; deploy v1 vm=db1; deploy v2 vm=db2; }
"#,
    );
    let db = applied(&out, "c1", "shop/service-db.yaml");
    assert!(db.contains("apiVersion: networking.istio.io/v1alpha3"), "{db}");
    assert!(
        !db.contains("Sidecar") && !db.contains("AuthorizationPolicy"),
        "{db}"
    );
    assert!(
        db.contains("alpha.istio.io/kubernetes-serviceaccounts: db"),
        "{db}"
    );
    assert!(
        db.contains("port: 5432") && db.contains("port: 15432"),
        "service port, endpoint port:\n{db}"
    );
    assert!(
        db.contains("- ip: \"10.0.5.1\"\n  - ip: \"10.0.5.2\"\n"),
        "every VM address in one subset:\n{db}"
    );
    let me = applied(&out, "c1", "istio-system/mesh-expansion.yaml");
    assert!(
        me.contains("cloud.google.com/load-balancer-type: internal"),
        "{me}"
    );
    let dns = applied(&out, "c1", "kube-system/mesh-expansion.yaml");
    assert!(
        dns.contains("name: dns-ilb") && dns.contains("loadBalancerIP: \"10.0.0.53\""),
        "{dns}"
    );
    assert!(!out.contains_key("kubernetes/clusters/c1/kube-system/namespace.yaml"));
}

#[test]
fn every_file_opens_with_the_header() {
    let out = build(&format!(
        "{MESH_1_24}\nservice db namespace=shop {{ port tcp 5432; deploy v1 vm=db1; }}"
    ));
    assert!(!out.is_empty());
    for (path, text) in &out {
        assert!(
            text.starts_with("# Code generated by meshc from t.kdl; DO NOT EDIT.\n"),
            "{path}"
        );
    }
}

use crate::synth;

/// The block writer (`emit::yaml`) writes every object exactly as
/// serde-saphyr's own emitter does, on every object of the examples and of
/// a synthetic mesh of both flows: the snapshots were taken with
/// serde-saphyr, and its YAML 1.1 quoting is what the writer defers to.
#[test]
fn block_writer_agrees_with_serde_saphyr() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut texts: Vec<(String, String)> = Vec::new();
    for example in ["bookinfo-vm", "bookinfo-legacy", "multicluster"] {
        let path = root.join("examples").join(example).join("topology.kdl");
        let text = std::fs::read_to_string(&path).expect("the example is readable");
        texts.push((example.to_owned(), text));
    }
    for istio in ["1.24", "1.6"] {
        let params = synth::Params {
            istio: istio.to_owned(),
            ..synth::Params::new(300, 60, 4)
        };
        let text = synth::generate(&params).expect("synth generates");
        texts.push((format!("synth-{istio}"), text));
    }
    let mut compared = 0;
    for (name, text) in texts {
        let source = Source::new("topology.kdl", text);
        let (checked, diags) = crate::check_source(&source, Syntax::Kdl, Limits::default());
        let Some(checked) = checked else {
            panic!("{name} does not check: {diags:#?}");
        };
        let files = super::files(&super::Cx::new(&checked));
        for object in &files.objects {
            let ours = crate::emit::yaml::document(object);
            let mut theirs = serde_saphyr::to_string_with_options(object, crate::emit::yaml::options())
                .expect("serde-saphyr renders the object");
            if !theirs.ends_with('\n') {
                theirs.push('\n');
            }
            let name_of = object.metadata().name.as_deref().unwrap_or_default();
            assert_eq!(ours, theirs, "{name}: object {name_of}");
            compared += 1;
        }
    }
    assert!(compared > 1000, "only {compared} objects compared");
}

/// The principals of an entry point's policy: each ingress kind's identity,
/// as that kind's installer names the gateway's service account.
#[test]
fn entry_points_admit_exactly_the_declared_ingresses() {
    let cases: [(&str, &[&str]); 6] = [
        // Nothing declared: istioctl's default gateway.
        (
            "",
            &["cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"],
        ),
        (
            "ingress edge kind=istioctl namespace=gw",
            &["cluster.local/ns/gw/sa/edge-service-account"],
        ),
        // Helm's `gateway` chart: the release name, in the release's namespace.
        (
            "ingress istio-ingress kind=helm namespace=istio-ingress",
            &["cluster.local/ns/istio-ingress/sa/istio-ingress"],
        ),
        (
            "ingress public kind=helm",
            &["cluster.local/ns/istio-ingress/sa/public"],
        ),
        // A Gateway API Gateway: `<gateway>-istio` in the Gateway's namespace.
        (
            "ingress bookinfo-gateway kind=gateway-api namespace=shop",
            &["cluster.local/ns/shop/sa/bookinfo-gateway-istio"],
        ),
        (
            "ingress istio-ingressgateway\n    ingress web-gw kind=gateway-api",
            &[
                "cluster.local/ns/default/sa/web-gw-istio",
                "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account",
            ],
        ),
    ];
    for (ingresses, want) in cases {
        let mesh = MESH_1_24.replace("istio \"1.24\"", &format!("istio \"1.24\"\n    {ingresses}"));
        let out = build(&format!(
            "{mesh}\nservice web namespace=shop {{ port http 80; deploy v1 vm=db1; entry-point #true; }}"
        ));
        let web = applied(&out, "c1", "shop/service-web.yaml");
        let policy = web
            .split("---\n")
            .find(|d| d.contains("kind: AuthorizationPolicy"))
            .unwrap_or_else(|| panic!("no policy:\n{web}"));
        let principals: Vec<&str> = policy
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("- cluster.local/"))
            .collect();
        let want: Vec<&str> = want.iter().map(|p| &p["cluster.local/".len()..]).collect();
        assert_eq!(principals, want, "{ingresses:?}\n{policy}");
    }
}

#[test]
fn a_files_documents_are_sorted_and_an_object_added_twice_is_written_once() {
    let key = |rank: u8, name: &str| (rank, "ns".to_owned(), name.to_owned());
    let mut documents = vec![
        (key(2, "b"), "b first".to_owned()),
        (key(1, "z"), "z".to_owned()),
        (key(2, "a"), "a".to_owned()),
        (key(2, "b"), "b again".to_owned()),
        (key(1, "z"), "z again".to_owned()),
    ];
    super::in_order(&mut documents);
    let texts: Vec<&str> = documents.iter().map(|(_, d)| d.as_str()).collect();
    assert_eq!(texts, ["z", "a", "b first"]);
}
