//! The topology language, as data: every node, its positional arguments,
//! its settings with their types, choices, flow and meanings, and its child
//! blocks.
//!
//! These tables are the single definition of the language. The reader
//! checks input against them (names, types, required settings, choice
//! words), refuses in debug builds to read a setting they do not define,
//! records what belongs to one Istio flow for `check` to judge, and
//! `schema` generates the JSON Schema (for the TOML form) and the KDL
//! reference from them, so none of these can drift apart.

use crate::model::{DnsMode, Flow, IlbAnnotation, IngressKind, Interception, Protocol, Registration};

/// What a node accepts.
pub struct Shape {
    /// The node's name (`cluster`, `port`).
    pub what: &'static str,
    /// What the node declares, for the reference.
    pub doc: &'static str,
    /// Names of the positional arguments, in order; each is also a setting.
    pub args: &'static [&'static str],
    /// A list setting that takes all remaining positional arguments.
    pub rest: Option<&'static str>,
    pub settings: &'static [Setting],
    pub blocks: &'static [Block],
    /// Any key is accepted, each with one string value (`labels`).
    pub open: bool,
}

impl Shape {
    pub fn setting(&self, name: &str) -> Option<&'static Setting> {
        self.settings.iter().find(|s| s.name == name)
    }

    pub fn block(&self, name: &str) -> Option<&'static Block> {
        self.blocks.iter().find(|b| b.name == name)
    }
}

/// A setting: `name=value`, or `name value…` as a child node.
pub struct Setting {
    pub name: &'static str,
    pub ty: Ty,
    /// Takes several values; repeating the setting appends.
    pub list: bool,
    /// The reader reports its absence (E203).
    pub required: bool,
    /// The one Istio flow it belongs to; `None` for both.
    pub flow: Option<FlowOnly>,
    /// The value meshc assumes when it is not written, as the reference
    /// and the JSON Schema show it; the model's accessors apply it, and
    /// `tests/language.rs` holds the two to the same value.
    pub default: Option<&'static str>,
    pub doc: &'static str,
}

impl Setting {
    /// Belongs to the legacy flow (Istio 0.8–1.7); `instead` ends the help
    /// of E802, which refuses it with a modern Istio ("" for none).
    const fn legacy(self, instead: &'static str) -> Setting {
        Setting {
            flow: Some(FlowOnly {
                flow: Flow::Legacy,
                instead,
            }),
            ..self
        }
    }

    /// Assumed when the setting is not written, in KDL (`"cluster.local"`
    /// is written `cluster.local`, booleans `#true`/`#false`).
    const fn default(self, value: &'static str) -> Setting {
        Setting {
            default: Some(value),
            ..self
        }
    }

    /// Belongs to the WorkloadEntry flow (Istio 1.8+); `instead` ends the
    /// help of E803, which refuses it with a legacy Istio.
    const fn modern(self, instead: &'static str) -> Setting {
        Setting {
            flow: Some(FlowOnly {
                flow: Flow::Modern,
                instead,
            }),
            ..self
        }
    }
}

/// The Istio flow a setting, a choice word or a block belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowOnly {
    pub flow: Flow,
    /// Completes the help of the diagnostic that refuses it in the other
    /// flow, after "remove `…`" ("" for nothing more to say).
    pub instead: &'static str,
}

/// A child block (`port http 9080`, `labels { … }`).
pub struct Block {
    pub name: &'static str,
    pub shape: &'static Shape,
    /// May appear several times.
    pub repeated: bool,
    /// The one Istio flow it belongs to; `None` for both.
    pub flow: Option<FlowOnly>,
}

const fn block(name: &'static str, shape: &'static Shape, repeated: bool) -> Block {
    Block {
        name,
        shape,
        repeated,
        flow: None,
    }
}

/// The type of a setting's values.
#[derive(Clone, Copy)]
pub enum Ty {
    /// A name: a DNS label or similar, checked by `check`.
    Name,
    /// Free text, checked by `check` where it reaches output.
    Text,
    /// `"1.24"`, `"1.0.9"`.
    Version,
    Bool,
    /// 1–65535.
    Port,
    /// An integer in a range.
    Integer(i64, i64),
    Ip,
    Cidr,
    /// One of a fixed set of words, compared exactly (case included): the
    /// JSON Schema's `enum` lists the same words.
    Choice(&'static [Word]),
}

/// One word of a choice, and the flow it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Word {
    pub word: &'static str,
    pub flow: Option<FlowOnly>,
}

impl Word {
    pub const fn any(word: &'static str) -> Word {
        Word { word, flow: None }
    }
}

/// A model type spelt by a choice's words: the reader turns the word it
/// found in the table into the value. Implemented by `choice!`, which
/// writes the words, the parsing and the spelling from one list.
pub trait Choice: Copy + 'static {
    /// The words, as the table's `Ty::Choice` holds them.
    fn words() -> &'static [Word];
    fn from_word(word: &str) -> Option<Self>;
    /// How the value is written; exhaustive, so a variant without a word
    /// does not compile.
    fn word(self) -> &'static str;
}

/// `choice! { WORDS: Enum { Variant = "word" [legacy|modern("instead")], … } }`:
/// the static word list `WORDS` for the table and `Choice` for `Enum`, from
/// one list.
macro_rules! choice {
    ($(#[$m:meta])* $words:ident: $ty:ident { $($variant:ident = $word:literal $($only:ident($instead:literal))?),+ $(,)? }) => {
        $(#[$m])*
        pub static $words: &[Word] = &[$(Word { word: $word, flow: choice!(@flow $($only($instead))?) }),+];

        impl Choice for $ty {
            fn words() -> &'static [Word] {
                $words
            }

            fn from_word(word: &str) -> Option<Self> {
                match word {
                    $($word => Some($ty::$variant),)+
                    _ => None,
                }
            }

            fn word(self) -> &'static str {
                match self {
                    $($ty::$variant => $word,)+
                }
            }
        }
    };
    (@flow) => { None };
    (@flow legacy($instead:literal)) => { Some(FlowOnly { flow: Flow::Legacy, instead: $instead }) };
    (@flow modern($instead:literal)) => { Some(FlowOnly { flow: Flow::Modern, instead: $instead }) };
}

choice! {
    /// `ingress kind`.
    INGRESS_KINDS: IngressKind { Istioctl = "istioctl", Helm = "helm", GatewayApi = "gateway-api" }
}

choice! {
    /// `cluster ilb-annotation`.
    ILB_ANNOTATIONS: IlbAnnotation { Alibaba = "alibaba", Gke = "gke", None = "none" }
}

choice! {
    /// `vm interception`.
    INTERCEPTIONS: Interception { Redirect = "redirect", Tproxy = "tproxy" }
}

choice! {
    /// `vm dns`.
    DNS_MODES: DnsMode {
        Capture = "capture" modern(" (use `dns dnsmasq`, as the legacy flow did)"),
        Dnsmasq = "dnsmasq",
        Hosts = "hosts",
    }
}

choice! {
    /// `service registration`.
    REGISTRATIONS: Registration { Service = "service", ServiceEntry = "service-entry" modern("") }
}

/// What a `probe` checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeKindWord {
    Http,
    Tcp,
    Exec,
}

choice! {
    /// `probe kind`.
    PROBE_KINDS: ProbeKindWord { Http = "http", Tcp = "tcp", Exec = "exec" }
}

/// `mesh control-plane-auth`: the words are the values `ISTIO_CP_AUTH` takes.
pub static CONTROL_PLANE_AUTHS: &[Word] = &[Word::any("MUTUAL_TLS"), Word::any("NONE")];

/// `port protocol`: the keywords of the model's `Protocol`, which also
/// selects a protocol by port-name prefix.
pub static PROTOCOLS: [Word; Protocol::ALL.len()] = {
    let mut out = [Word::any(""); Protocol::ALL.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = Word::any(Protocol::ALL[i].keyword());
        i += 1;
    }
    out
};

impl Choice for Protocol {
    fn words() -> &'static [Word] {
        &PROTOCOLS
    }

    fn from_word(word: &str) -> Option<Self> {
        Protocol::ALL.into_iter().find(|p| p.keyword() == word)
    }

    fn word(self) -> &'static str {
        self.keyword()
    }
}

const fn s(name: &'static str, ty: Ty, doc: &'static str) -> Setting {
    Setting {
        name,
        ty,
        list: false,
        required: false,
        flow: None,
        default: None,
        doc,
    }
}

const fn required(name: &'static str, ty: Ty, doc: &'static str) -> Setting {
    Setting {
        required: true,
        ..s(name, ty, doc)
    }
}

const fn list(name: &'static str, ty: Ty, doc: &'static str) -> Setting {
    Setting {
        list: true,
        ..s(name, ty, doc)
    }
}

const NAME: Setting = required("name", Ty::Name, "The declaration's name (the first argument).");

/// On every top-level declaration: warnings it silences (`check::allow`).
const ALLOW: Setting = list(
    "allow",
    Ty::Text,
    "Warning codes (`W901`) or names (`dependency-cycle`) not to report inside this declaration: `allow \"W901\" \"W905\"`. Only warnings can be allowed (an error code is E230); an allowed code that suppresses nothing is W930.",
);

/// The top level of a topology.
pub static TOP: &[Block] = &[
    block("mesh", &MESH, false),
    block("network", &NETWORK, true),
    block("cluster", &CLUSTER, true),
    block("vm", &VM, true),
    block("namespace", &NAMESPACE, true),
    block("service", &SERVICE, true),
];

pub static MESH: Shape = Shape {
    what: "mesh",
    doc: "The mesh: its name, the Istio version (which selects the mesh-expansion flow) and control-plane settings. Exactly one.",
    args: &["name"],
    rest: None,
    settings: &[
        NAME,
        required(
            "istio",
            Ty::Version,
            "Istio version, quoted: \"1.24\" or \"1.0.9\". Before 1.8 the legacy flow (internal load balancers, `istioctl register`), from 1.8 the WorkloadEntry flow.",
        ),
        s(
            "trust-domain",
            Ty::Name,
            "SPIFFE trust domain.",
        )
        .default("cluster.local"),
        s(
            "mesh-id",
            Ty::Name,
            "Mesh id (`ISTIO_META_MESH_ID`). Modern flow.",
        )
        .modern(""),
        s(
            "control-plane-namespace",
            Ty::Name,
            "Namespace of the control plane.",
        )
        .default("istio-system"),
        s(
            "revision",
            Ty::Name,
            "Istio revision (`istio.io/rev`), e.g. `1-24`. Modern flow.",
        )
        .modern(""),
        s(
            "least-privilege",
            Ty::Bool,
            "Emit Sidecar and AuthorizationPolicy objects from the call graph. Default #true. Modern flow.",
        )
        .modern(""),
        s(
            "control-plane-auth",
            Ty::Choice(CONTROL_PLANE_AUTHS),
            "Control-plane auth policy (`ISTIO_CP_AUTH`). Legacy flow; default MUTUAL_TLS.",
        )
        .legacy("; from 1.8 the control plane is always reached over mTLS"),
        s(
            "data-plane-mtls",
            Ty::Bool,
            "Whether the install turns on mutual TLS between workloads (Istio 1.0's `istio-demo-auth.yaml`, `global.mtls.enabled`). #true writes `tls: ISTIO_MUTUAL` into every DestinationRule meshc emits: a host's rule replaces the mesh-wide one, TLS settings included, and before automatic mutual TLS (Istio 1.5) its clients would talk plain text.",
        )
        .default("#false"),
        ALLOW,
    ],
    blocks: &[block("ingress", &INGRESS, true)],
    open: false,
};

pub static INGRESS: Shape = Shape {
    what: "ingress",
    doc: "An ingress gateway that brings outside traffic to `entry-point` services, whose identity their AuthorizationPolicies admit: `ingress istio-ingress kind=helm namespace=istio-ingress`. Repeat for several. Default: the release line's default install, istioctl's `istio-ingressgateway` in the control-plane namespace.",
    args: &["name"],
    rest: None,
    settings: &[
        required(
            "name",
            Ty::Name,
            "The gateway's name: istioctl's gateway name, the Helm release, or the Gateway API Gateway.",
        ),
        s(
            "kind",
            Ty::Choice(INGRESS_KINDS),
            "How it is installed, which decides its service account: istioctl's `<name>-service-account`, the Helm `gateway` chart's release name, or the `<name>-istio` account Istio gives a Gateway API Gateway.",
        )
        .default("istioctl"),
        s(
            "namespace",
            Ty::Name,
            "Its namespace. Default: the control-plane namespace (istioctl), `istio-ingress` (helm, as Istio's Helm guide installs it), `default` (gateway-api).",
        ),
    ],
    blocks: &[],
    open: false,
};

pub static NETWORK: Shape = Shape {
    what: "network",
    doc: "An L3 network (a VPC, a data centre). Workloads on one network reach each other directly; across networks they go through gateways.",
    args: &["name"],
    rest: None,
    settings: &[
        NAME,
        list("cidr", Ty::Cidr, "Address ranges of the network."),
        s(
            "gateway",
            Ty::Ip,
            "Address through which other networks reach this one; it must be the `east-west-gateway` of a cluster on this network (E709), the only gateway Istio runs and learns.",
        ),
        ALLOW,
    ],
    blocks: &[],
    open: false,
};

pub static CLUSTER: Shape = Shape {
    what: "cluster",
    doc: "A Kubernetes cluster.",
    args: &["name"],
    rest: None,
    settings: &[
        NAME,
        required("network", Ty::Name, "The network the cluster's nodes are on."),
        list("pod-cidr", Ty::Cidr, "Pod address ranges."),
        list(
            "service-cidr",
            Ty::Cidr,
            "Service (ClusterIP) ranges: the outbound capture range on VMs in the legacy flow.",
        ),
        s(
            "cluster-domain",
            Ty::Name,
            "Cluster DNS domain.",
        )
        .default("cluster.local"),
        s("kube-dns", Ty::Ip, "The kube-dns ClusterIP."),
        s(
            "cluster-id",
            Ty::Name,
            "Istio cluster id (`ISTIO_META_CLUSTER_ID`). Default: the cluster's name. meshc's istiod values set it (`global.multiCluster.clusterName`); installing istiod another way, set that value to this id (istiod's own default is `Kubernetes`), or istiod rejects the VMs' certificate requests.",
        ),
        s("control-plane", Ty::Bool, "Whether istiod runs in this cluster."),
        s(
            "east-west-gateway",
            Ty::Ip,
            "Address of the east-west gateway exposing istiod (15012, 15017) and, across networks, services (15443). Modern flow.",
        )
        .modern(" (the legacy flow reaches the control plane through `ilb`)"),
        s(
            "ilb-annotation",
            Ty::Choice(ILB_ANNOTATIONS),
            "Which cloud's internal-load-balancer annotation the legacy ILB Services get.",
        )
        .legacy(""),
        ALLOW,
    ],
    blocks: &[Block {
        flow: Some(FlowOnly {
            flow: Flow::Legacy,
            instead: "; VMs reach istiod through `east-west-gateway` from 1.8",
        }),
        ..block("ilb", &ILB, false)
    }],
    open: false,
};

pub static ILB: Shape = Shape {
    what: "ilb",
    doc: "The legacy mesh-expansion internal load balancers (Istio 0.8–1.7).",
    args: &[],
    rest: None,
    settings: &[
        required("pilot", Ty::Ip, "Address of `istio-pilot-ilb`."),
        required("mixer", Ty::Ip, "Address of `mixer-ilb`."),
        required("citadel", Ty::Ip, "Address of `citadel-ilb`."),
        required("kube-dns", Ty::Ip, "Address of `dns-ilb` (kube-dns)."),
    ],
    blocks: &[],
    open: false,
};

pub static LABELS: Shape = Shape {
    what: "labels",
    doc: "Labels: `labels key=\"value\"` or `labels { key \"value\" }`.",
    args: &[],
    rest: None,
    settings: &[],
    blocks: &[],
    open: true,
};

pub static VM: Shape = Shape {
    what: "vm",
    doc: "A VM or bare-metal host joining the mesh.",
    args: &["name"],
    rest: None,
    settings: &[
        NAME,
        required(
            "address",
            Ty::Ip,
            "The VM's address (IPv4 or IPv6), as the mesh reaches it.",
        ),
        required("network", Ty::Name, "The network the VM is on."),
        s(
            "cluster",
            Ty::Name,
            "The cluster whose control plane the VM joins. Default: the control-plane cluster, when there is one.",
        ),
        s(
            "ssh",
            Ty::Text,
            "`[user@]host[:port]` the VM is managed through; its SSH port is kept out of capture.",
        ),
        s(
            "service-account",
            Ty::Name,
            "Service account of the VM's sidecar. Default: the service's.",
        ),
        s(
            "proxy-uid",
            Ty::Integer(0, 4_294_967_295),
            "uid of the sidecar user (istio-proxy).",
        )
        .default("1337"),
        s(
            "proxy-gid",
            Ty::Integer(0, 4_294_967_295),
            "gid of the sidecar user. Default: the uid.",
        ),
        s(
            "interception",
            Ty::Choice(INTERCEPTIONS),
            "Inbound interception mode.",
        )
        .default("redirect"),
        s(
            "dns",
            Ty::Choice(DNS_MODES),
            "How the VM resolves cluster names: the agent's DNS proxy (capture), a dnsmasq forwarder (the legacy way), or hosts entries only.",
        )
        .default("capture"),
        list(
            "dns-server",
            Ty::Ip,
            "Resolvers whose port-53 traffic the agent captures. Default: the nameservers of the VM's /etc/resolv.conf, read when the rules are applied.",
        ),
        s(
            "capture-all-dns",
            Ty::Bool,
            "Capture every port-53 packet, not only those to the resolvers (loops through a local stub resolver). Default false.",
        ),
        list(
            "inbound-exclude-ports",
            Ty::Port,
            "Extra inbound ports kept out of capture.",
        ),
        list(
            "outbound-exclude-ports",
            Ty::Port,
            "Outbound ports never redirected to the sidecar.",
        ),
        list(
            "outbound-exclude-cidrs",
            Ty::Cidr,
            "Outbound ranges never redirected to the sidecar.",
        ),
        s(
            "autoregister",
            Ty::Bool,
            "Let istiod create the WorkloadEntry when the sidecar connects. Modern flow.",
        )
        .modern(""),
        ALLOW,
    ],
    blocks: &[block("labels", &LABELS, false)],
    open: false,
};

pub static NAMESPACE: Shape = Shape {
    what: "namespace",
    doc: "A Kubernetes namespace. Namespaces named by services exist implicitly; declare one to give it labels or settings.",
    args: &["name"],
    rest: None,
    settings: &[
        NAME,
        s("injection", Ty::Bool, "Sidecar injection label. Default #true."),
        s(
            "least-privilege",
            Ty::Bool,
            "Overrides the mesh's `least-privilege` for this namespace.",
        )
        .modern(""),
        ALLOW,
    ],
    blocks: &[block("labels", &LABELS, false)],
    open: false,
};

pub static SERVICE: Shape = Shape {
    what: "service",
    doc: "A service: its ports, where each version runs, what it calls and how its traffic is routed.",
    args: &["name"],
    rest: None,
    settings: &[
        NAME,
        s(
            "namespace",
            Ty::Name,
            "The service's namespace.",
        )
        .default("default"),
        list(
            "calls",
            Ty::Name,
            "Services this one calls (`name`, or `name.namespace`).",
        ),
        s(
            "service-account",
            Ty::Name,
            "Service account of its workloads. Default: the service's name.",
        ),
        s(
            "registration",
            Ty::Choice(REGISTRATIONS),
            "How VM workloads are registered: a Kubernetes Service selecting WorkloadEntries, or a ServiceEntry (modern flow).",
        )
        .default("service"),
        s(
            "entry-point",
            Ty::Bool,
            "Reached from outside the mesh, so having no caller is expected.",
        ),
        ALLOW,
    ],
    blocks: &[
        block("port", &PORT, true),
        block("deploy", &DEPLOY, true),
        block("route", &ROUTE, true),
        Block {
            flow: Some(FlowOnly {
                flow: Flow::Modern,
                instead: "",
            }),
            ..block("probe", &PROBE, false)
        },
    ],
    open: false,
};

pub static PORT: Shape = Shape {
    what: "port",
    doc: "A service port: `port NAME NUMBER`. The name's prefix selects the protocol as Istio does (`http`, `http-web`, `grpc`, `tcp`, …).",
    args: &["name", "number"],
    rest: None,
    settings: &[
        required("name", Ty::Name, "Port name; its prefix selects the protocol."),
        required("number", Ty::Port, "Port number."),
        s(
            "protocol",
            Ty::Choice(&PROTOCOLS),
            "Explicit protocol, when the name does not say it.",
        ),
        s(
            "target-port",
            Ty::Port,
            "Port the workload listens on. Default: the port number.",
        ),
    ],
    blocks: &[],
    open: false,
};

pub static DEPLOY: Shape = Shape {
    what: "deploy",
    doc: "Where versions run: `deploy v1 v2 cluster=NAME` or `deploy v1 vm=NAME`. Repeat for several targets.",
    args: &[],
    rest: Some("version"),
    settings: &[
        Setting {
            required: true,
            ..list("version", Ty::Name, "Versions (label values).")
        },
        s("cluster", Ty::Name, "The cluster they run in."),
        s("vm", Ty::Name, "The VM they run on."),
        s(
            "service-account",
            Ty::Name,
            "Service account these versions' pods run as, when it differs from the service's (cluster deployments only; on a VM the VM's applies).",
        ),
    ],
    blocks: &[],
    open: false,
};

pub static ROUTE: Shape = Shape {
    what: "route",
    doc: "A share of the service's traffic for one version: `route v2 weight=10`. A single route without a weight takes all traffic.",
    args: &["version"],
    rest: None,
    settings: &[
        required("version", Ty::Name, "The version traffic goes to."),
        s("weight", Ty::Integer(0, 100), "Percentage of traffic."),
    ],
    blocks: &[],
    open: false,
};

pub static PROBE: Shape = Shape {
    what: "probe",
    doc: "Readiness probe of the service's VM workloads (WorkloadGroup `probe`): `probe http port=9080 path=\"/health\"`, `probe tcp port=3306`, `probe exec { command \"sh\" \"-c\" \"…\" }` (a KDL property holds one value, so a command with arguments is a child).",
    args: &["kind"],
    rest: None,
    settings: &[
        required("kind", Ty::Choice(PROBE_KINDS), "The kind of probe."),
        s("port", Ty::Port, "Port to probe (http, tcp)."),
        s("path", Ty::Text, "HTTP path (http)."),
        list("command", Ty::Text, "Command and arguments (exec)."),
    ],
    blocks: &[],
    open: false,
};

#[cfg(test)]
mod tests {
    use super::{Shape, TOP, Ty};

    /// Every choice's words differ even ignoring case, so that the help
    /// for a word written in another case names exactly one.
    #[test]
    fn choice_words_are_distinct_ignoring_case() {
        fn visit(shape: &'static Shape, seen: &mut Vec<&'static str>, checked: &mut usize) {
            if seen.contains(&shape.what) {
                return;
            }
            seen.push(shape.what);
            for s in shape.settings {
                if let Ty::Choice(words) = s.ty {
                    *checked += 1;
                    for (i, a) in words.iter().enumerate() {
                        for b in &words[i + 1..] {
                            assert!(
                                !a.word.eq_ignore_ascii_case(b.word),
                                "`{} {}`: `{}` and `{}`",
                                shape.what,
                                s.name,
                                a.word,
                                b.word
                            );
                        }
                    }
                }
            }
            for b in shape.blocks {
                visit(b.shape, seen, checked);
            }
        }
        let (mut seen, mut checked) = (Vec::new(), 0);
        for b in TOP {
            visit(b.shape, &mut seen, &mut checked);
        }
        assert!(checked >= 8, "only {checked} choice settings reached");
    }
}
