#!/usr/bin/env python3
"""Independent synthetic topology generator for meshc (KDL form).

    python3 benches/independent_gen.py --services N --vms M --clusters K [--seed S] [--istio 1.24]

Prints one KDL v2 topology on stdout.  Written only from the language
reference (schema/topology-kdl.md, schema/topology.schema.json) and the
bundled example topologies.  Standard library only; the output is a pure
function of the arguments (and of the Python `random` implementation).

Shape (what a large, realistic mesh-expansion estate looks like):

* namespaces: clamp(N/240, 10, 50) team namespaces with Zipf-skewed sizes,
  plus a handful of services left in `default`; most namespaces are declared
  (labels, injection, per-namespace least-privilege), a few stay implicit;
* services: 1-3 versions (55/30/15 %), 1-4 ports of mixed protocols (http,
  http2, https, grpc, grpc-web, tcp, tls, mongo, mysql, redis, udp, explicit
  `protocol=` on neutral port names), some `target-port`s, some per-deploy
  service accounts; common infrastructure names (edge-gateway, outbox-relay,
  ...) recur in many namespaces, so same-named services exist in several
  namespaces and cross-namespace calls are always written `name.namespace`;
* ~20 % of services run on VMs: half VM-only (some registered as
  ServiceEntry), half hybrid (old versions in clusters, the newest on VMs);
  VM versions get 1-3 VM replicas; VM occupancy is heavy-tailed (every VM
  runs something, some run 5-12 workloads), one namespace per VM;
* calls: a random topological order; each service calls a heavy-tailed number
  (mean ~3) of services earlier in that order: same namespace, preferential
  attachment (popular back-ends get more callers) or uniform; services that
  end up with no caller are marked `entry-point #true`;
* routes: weighted splits over all deployed versions (sometimes a drained
  version at weight=0), or single cut-over routes;
* networks: cloud VPCs (several clusters each, multi-primary + remotes,
  east-west gateways, some dual-stack) and data-centre networks of VMs only,
  each with its own gateway (one dual-stack with IPv6 VMs);
* formatting: properties and child-node forms mixed, repeated list nodes,
  one-line `;` blocks, comments, slash-dashed (disabled) nodes, and the
  declarations interleaved per namespace instead of grouped by kind.
"""

import argparse
import math
import random
import re
import sys

# --------------------------------------------------------------------------
# vocabulary

ORGS = ["retail", "fin", "core", "data", "platform", "growth", "risk", "ops",
        "supply", "media", "identity", "partner", "mobile", "search", "ads",
        "trust", "billing", "geo", "hr", "legal"]
DOMAINS = ["checkout", "ledger", "catalog", "inventory", "pricing", "payments",
           "fulfilment", "loyalty", "fraud", "kyc", "notifications", "reporting",
           "shipping", "returns", "recommendations", "sessions", "profiles",
           "subscriptions", "invoicing", "tax", "warehouse", "routing",
           "telemetry", "onboarding", "experiments", "content", "messaging",
           "settlement", "treasury", "quotes"]
ENTITIES = ["order", "cart", "sku", "price", "coupon", "account", "customer",
            "merchant", "invoice", "shipment", "parcel", "refund", "payout",
            "wallet", "balance", "ledger-entry", "quote", "offer", "bundle",
            "review", "rating", "session", "token", "device", "address",
            "carrier", "slot", "stock", "batch", "event", "report", "export",
            "feed", "asset", "policy", "consent", "score", "rule", "limit",
            "fx-rate", "tax-code", "receipt", "basket", "promo", "contract"]
ROLES = ["api", "svc", "worker", "projector", "reconciler", "router", "indexer",
         "aggregator", "publisher", "consumer", "scheduler", "validator",
         "enricher", "resolver", "gateway", "adapter", "cache", "store",
         "read-model", "writer", "sync", "importer", "exporter", "notifier",
         "matcher", "calculator", "evaluator", "compactor", "bridge"]
QUALIFIERS = ["", "", "", "", "", "v2", "legacy", "batch", "rt", "eu", "us",
              "apac", "internal", "public", "shadow", "grpc", "async"]
COMMON = ["edge-gateway", "outbox-relay", "config-agent", "audit-sink",
          "feature-flags", "rate-limiter", "schema-registry-proxy"]

PROVIDERS = [("gke", ["europe-west4", "us-central1", "asia-east1", "europe-west1",
                      "us-east4", "australia-southeast1"]),
             ("eks", ["eu-central-1", "us-east-1", "us-west-2", "ap-south-1",
                      "sa-east-1", "eu-west-2"]),
             ("aks", ["westeurope", "eastus2", "japaneast", "uksouth",
                      "canadacentral"]),
             ("ack", ["cn-hangzhou", "cn-shanghai", "ap-southeast-1",
                      "cn-beijing"])]
STAGES = ["prod", "prod", "prod", "shared", "edge", "batch"]
CITIES = ["fra", "ams", "lon", "par", "mad", "mil", "waw", "sto", "iad", "ord",
          "dfw", "sjc", "sea", "yyz", "gru", "nrt", "sin", "syd", "bom", "hkg",
          "dub", "zrh", "vie", "prg", "hel", "osl", "cph", "lis", "ath", "ist",
          "jnb", "scl", "bog", "mex", "atl", "den", "phx", "bos", "mia", "slc"]
MAX_PER_VM = 24   # cap on workloads per VM (the busiest hosts)
HOST_ROLES = ["app", "db", "mq", "batch", "edge", "legacy", "cache", "etl"]

# Ports a sidecar on a VM reserves (and a margin), SSH, and the ports some
# VMs keep out of inbound capture: never used by a service.
FORBIDDEN = set(range(15000, 15100)) | {22, 2222, 9100, 10050}


# port archetypes per service kind: list of (name, number, protocol)
KINDS = {
    "http-api": [("http", 8080, None), ("http-api", 8000, None),
                 ("http-web", 80, None), ("http", 9080, None),
                 ("http-rest", 8081, None), ("web", 3000, "http")],
    "grpc": [("grpc", 9090, None), ("grpc-api", 50051, None),
             ("grpc", 8443, None), ("rpc", 7070, "grpc"),
             ("http2", 8082, None), ("grpc-web", 8090, None)],
    "db": [("tcp-postgres", 5432, None), ("mysql", 3306, None),
           ("mongo", 27017, None), ("redis", 6379, None),
           ("tcp-cassandra", 9042, None), ("mysql-replica", 3307, None),
           ("redis-sentinel", 26379, None), ("tcp-es", 9200, None)],
    "queue": [("tcp-amqp", 5672, None), ("tcp-kafka", 9092, None),
              ("tcp-nats", 4222, None), ("tls-mqtt", 8883, None),
              ("tcp-zk", 2181, None)],
    "edge": [("https", 443, None), ("https-web", 8443, None),
             ("http", 8080, None), ("tls", 6443, None), ("http-web", 80, None)],
    "legacy": [("tcp", 7001, None), ("tcp-rmi", 1099, None),
               ("http-soap", 8088, None), ("tls-ldaps", 636, None),
               ("legacy", 7002, "tcp"), ("udp-syslog", 514, None),
               ("tcp-smtp", 2525, None)],
}
# extra ports any kind may add
EXTRA = [("metrics", 9464, "http"), ("http-admin", 8558, None),
         ("grpc-health", 9091, None), ("http-debug", 6060, None),
         ("mgmt", 8086, "http"), ("tcp-jmx", 9010, None),
         ("stats", 9102, "tcp"), ("admin-tls", 9443, "tls")]
KIND_WEIGHTS = [("http-api", 38), ("grpc", 25), ("db", 10), ("queue", 6),
                ("edge", 6), ("legacy", 15)]
# kinds that tend to run on VMs
VM_KIND_WEIGHTS = [("db", 30), ("legacy", 30), ("queue", 15), ("http-api", 15),
                   ("grpc", 7), ("edge", 3)]

VERSION_SETS = [
    ["v1"], ["v1"], ["v2"], ["v3"], ["stable"], ["v1"], ["main"],
    ["v1", "v2"], ["v1", "v2"], ["v2", "v3"], ["stable", "canary"],
    ["v1", "v2-canary"], ["blue", "green"], ["v4", "v5-arm64"],
    ["1-0-7", "1-1-0"], ["2024-11", "2025-02"],
    ["v1", "v2", "v3"], ["v1", "v2", "v3-beta"], ["stable", "canary", "shadow"],
    ["v7", "v8", "v9-rc1"],
]

IDENT_RE = re.compile(r"^[A-Za-z_\-][A-Za-z0-9_\-]*$")


def q(s):
    """A KDL v2 string: bare identifier when safe, quoted otherwise."""
    s = str(s)
    if IDENT_RE.match(s) and s not in ("true", "false", "null", "inf", "nan") \
            and not re.match(r"^[-+]?\.?[0-9]", s) and not s.startswith("-."):
        return s
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def weighted(rng, pairs):
    total = sum(w for _, w in pairs)
    x = rng.random() * total
    for v, w in pairs:
        x -= w
        if x < 0:
            return v
    return pairs[-1][0]


def apportion(total, weights, minimum=0):
    """Split `total` into len(weights) integers ~ proportional, >= minimum."""
    n = len(weights)
    if n == 0:
        return []
    base = [minimum] * n
    rest = total - minimum * n
    if rest < 0:
        raise SystemExit("apportion: total too small")
    s = float(sum(weights))
    raw = [rest * w / s for w in weights]
    fl = [int(math.floor(r)) for r in raw]
    left = rest - sum(fl)
    order = sorted(range(n), key=lambda i: (-(raw[i] - fl[i]), i))
    for i in order[:left]:
        fl[i] += 1
    return [b + f for b, f in zip(base, fl)]


# --------------------------------------------------------------------------
# model


class Net:
    def __init__(self, name, kind, idx):
        self.name = name
        self.kind = kind          # "cloud" | "dc"
        self.idx = idx
        self.cidrs = []
        self.gateway = None
        self.clusters = []
        self.v6 = False
        self.next_off = 0
        self.next_off6 = 0
        self.comment = None


class Cluster:
    def __init__(self, name, net, j):
        self.name = name
        self.net = net
        self.j = j
        self.cp = False
        self.ewgw = None
        self.pod = []
        self.svc = []
        self.kube_dns = None
        self.cluster_id = None
        self.domain = None


class VM:
    def __init__(self, name, net, addr, ns):
        self.name = name
        self.net = net
        self.addr = addr
        self.ns = ns
        self.home = None
        self.workloads = []       # (service, version)
        self.ports = set()
        self.settings = {}


class Service:
    def __init__(self, idx, name, ns):
        self.idx = idx
        self.name = name
        self.ns = ns              # namespace name
        self.kind = None
        self.ports = []           # [name, number, protocol, target]
        self.versions = []
        self.cluster_deploys = []  # (versions tuple, cluster, sa or None)
        self.vm_deploys = []      # (version, vm)
        self.vm_mode = None       # None | "vm-only" | "hybrid"
        self.vm_versions = []
        self.replicas = {}
        self.calls = []
        self.callers = 0
        self.routes = []          # (version, weight or None)
        self.sa = None
        self.registration = None
        self.probe = None
        self.entry = False


# --------------------------------------------------------------------------
# generator


def build(args):
    rng = random.Random(args.seed)
    N, M, K = args.services, args.vms, args.clusters
    if N < 1 or K < 1 or M < 0:
        raise SystemExit("need --services >= 1, --clusters >= 1, --vms >= 0")

    # ---------------- networks and clusters
    n_cloud = max(1, min(K, 30, int(round(K / 3.0))))
    used_names = set()

    def uniq(base):
        name = base[:63].strip("-")
        k = 2
        while name in used_names:
            suffix = "-%d" % k
            name = base[:63 - len(suffix)].strip("-") + suffix
            k += 1
        used_names.add(name)
        return name

    clouds = []
    for i in range(n_cloud):
        prov, regions = PROVIDERS[i % len(PROVIDERS)]
        region = regions[(i // len(PROVIDERS)) % len(regions)]
        net = Net(uniq("vpc-%s-%s" % (prov, region)), "cloud", i)
        n = i + 1
        net.cidrs = ["10.%d.0.0/16" % n]
        if i % 3 == 1:
            net.cidrs.append("10.%d.0.0/16" % (100 + n))   # secondary range
        net.octet = n
        net.prov = prov
        net.region = region
        clouds.append(net)

    # clusters over cloud networks: each >= 1, the rest skewed, <= 12 per net
    per = [1] * n_cloud
    for _ in range(K - n_cloud):
        cands = [i for i in range(n_cloud) if per[i] < 12]
        if not cands:
            raise SystemExit("too many clusters for %d networks" % n_cloud)
        w = [(i, 1.0 + per[i] * 0.6 + (2.0 if i == 0 else 0.0)) for i in cands]
        per[weighted(rng, w)] += 1
    clusters = []
    for i, net in enumerate(clouds):
        for j in range(per[i]):
            stage = STAGES[(i + j) % len(STAGES)] if j else "prod"
            c = Cluster(uniq("%s-%s-%s-%s" % (net.prov, stage, net.region,
                                               "abcdefghijkl"[j])), net, j)
            # multi-primary: the first cluster of every network runs istiod,
            # others are primaries too with probability 0.35, else remotes
            c.cp = (j == 0) or rng.random() < 0.35
            if c.cp or rng.random() < 0.5:
                c.ewgw = "10.%d.0.%d" % (net.octet, 100 + j)
            c.pod = ["100.%d.0.0/14" % (64 + 4 * j)]
            c.svc = ["172.%d.0.0/16" % (20 + j)]
            if rng.random() < 0.2:       # dual-stack
                c.pod.append("fd10:%x:%x::/56" % (net.octet, j))
                c.svc.append("fd20:%x:%x::/112" % (net.octet, j))
            if rng.random() < 0.7:
                c.kube_dns = "172.%d.0.10" % (20 + j)
            if rng.random() < 0.25:
                c.cluster_id = "k8s-%s-%d" % (net.prov, 1000 + i * 16 + j)
            if rng.random() < 0.3:
                c.domain = "cluster.local"
            net.clusters.append(c)
            clusters.append(c)
    cp_clusters = [c for c in clusters if c.cp]

    # data-centre networks (VMs only, each with a gateway)
    n_dc = 0 if M == 0 else max(2, min(40, int(round(M / 330.0))))
    dcs = []
    for d in range(n_dc):
        city = CITIES[d % len(CITIES)]
        net = Net(uniq("dc-%s%d" % (city, 1 + d // len(CITIES))), "dc", d)
        if d == 0:
            net.cidrs = ["192.168.0.0/16"]
            net.gateway = "192.168.0.1"
            net.v4base = (192, 168)
        else:
            net.cidrs = ["10.%d.0.0/16" % (160 + d)]
            net.gateway = "10.%d.0.1" % (160 + d)
            net.v4base = (10, 160 + d)
        if d == 1:                      # dual-stack DC with IPv6 hosts
            net.v6 = True
            net.cidrs.append("fd7a:115c:a1e0:%x::/64" % d)
        dcs.append(net)
    all_nets = clouds + dcs

    # ---------------- namespaces
    n_ns = max(1, min(50, max(10, int(round(N / 240.0))), N // 3 or 1))
    ns_names = []
    combos = [(o, d) for o in ORGS for d in DOMAINS]
    rng.shuffle(combos)
    for o, d in combos[:n_ns]:
        ns_names.append(uniq("%s-%s" % (o, d)))
    n_default = 0 if N < 50 else max(3, N // 400)
    zipf = [1.0 / (r + 1) ** 0.75 for r in range(n_ns)]
    rng.shuffle(zipf)
    min_per = min(4, (N - n_default) // n_ns)
    sizes = apportion(N - n_default, zipf, minimum=min_per)

    # namespace affinity: a home cloud network, 2-4 clusters, 1-3 VM networks
    ns_info = {}
    for k, ns in enumerate(ns_names + ["default"]):
        home = clouds[weighted(rng, [(i, 1.0 / (i + 1)) for i in range(n_cloud)])]
        pool = list(home.clusters)
        rng.shuffle(pool)
        pool = pool[:rng.randint(1, 3)]
        other = [c for c in clusters if c not in pool]
        if other and rng.random() < 0.6:
            pool.append(rng.choice(other))
        vnets = []
        if dcs:
            vnets = rng.sample(dcs, min(len(dcs), rng.randint(1, 2)))
        if rng.random() < 0.5:
            vnets.append(home)
        if not vnets:
            vnets = [home]
        ns_info[ns] = {"clusters": pool, "vmnets": vnets, "home": home}

    # ---------------- services: names, kinds, versions
    services = []
    names_in_ns = {}
    ns_of_slot = []
    for ns, sz in zip(ns_names, sizes):
        ns_of_slot += [ns] * sz
    ns_of_slot += ["default"] * n_default
    rng.shuffle(ns_of_slot)
    dom_of_ns = {ns: ([ns.split("-", 1)[1]] if "-" in ns else []) + rng.sample(DOMAINS, 2)
                 for ns in ns_names + ["default"]}
    for idx, ns in enumerate(ns_of_slot):
        taken = names_in_ns.setdefault(ns, set())
        name = None
        if len(taken) < len(COMMON) and rng.random() < 0.04:
            for c in COMMON:
                if c not in taken:
                    name = c
                    break
        while name is None:
            parts = []
            r = rng.random()
            if r < 0.45:
                parts += [rng.choice(dom_of_ns[ns]), rng.choice(ENTITIES),
                          rng.choice(ROLES)]
            elif r < 0.8:
                parts += [rng.choice(ENTITIES), rng.choice(ROLES)]
            else:
                parts += [rng.choice(dom_of_ns[ns]), rng.choice(ROLES)]
            qual = rng.choice(QUALIFIERS)
            if qual:
                parts.append(qual)
            cand = "-".join(parts)
            if cand in taken:
                cand = "%s-%d" % (cand, rng.randint(2, 99))
            if cand not in taken and len(cand) <= 63:
                name = cand
        taken.add(name)
        s = Service(idx, name, ns)
        services.append(s)

    # which services run on VMs (~20 %)
    n_vm_svc = 0 if M == 0 else max(1, int(round(N * 0.2)))
    vm_svc = rng.sample(services, min(N, n_vm_svc)) if n_vm_svc else []
    for s in vm_svc:
        s.vm_mode = "vm-only" if rng.random() < 0.5 else "hybrid"

    for s in services:
        kinds = VM_KIND_WEIGHTS if s.vm_mode else KIND_WEIGHTS
        s.kind = weighted(rng, kinds)
        r = rng.random()
        nv = 1 if r < 0.55 else (2 if r < 0.85 else 3)
        if s.vm_mode == "hybrid" and nv == 1:
            nv = 2
        sets = [vs for vs in VERSION_SETS if len(vs) == nv]
        s.versions = list(rng.choice(sets))
        # ports: 1-4, the first from the kind, the rest from kind or extras
        n_ports = weighted(rng, [(1, 45), (2, 30), (3, 15), (4, 10)])
        arche = list(KINDS[s.kind])
        rng.shuffle(arche)
        chosen = [arche[0]]
        pool = arche[1:] + EXTRA
        rng.shuffle(pool)
        for cand in pool:
            if len(chosen) >= n_ports:
                break
            if all(cand[0] != c[0] and cand[1] != c[1] for c in chosen):
                chosen.append(cand)
        s.ports = [[nm, num, proto, None] for nm, num, proto in chosen]
        # some services remap to a different workload port anyway
        for p in s.ports:
            if rng.random() < 0.06:
                t = p[1] + 10000
                if t <= 65535 and t not in FORBIDDEN:
                    p[3] = t
        if rng.random() < 0.15:
            s.sa = "%s-%s" % (s.name[:40].rstrip("-"), rng.choice(["sa", "runtime", "identity"]))
        if s.vm_mode == "vm-only":
            s.vm_versions = list(s.versions)
        elif s.vm_mode == "hybrid":
            s.vm_versions = [s.versions[-1]]
        for v in s.vm_versions:
            s.replicas[v] = weighted(rng, [(1, 60), (2, 28), (3, 12)])
        if s.vm_mode == "vm-only" and rng.random() < 0.3:
            s.registration = "service-entry"

    # ---------------- cluster deployments
    for s in services:
        info = ns_info[s.ns]
        cl_versions = [v for v in s.versions if v not in s.vm_versions]
        if not cl_versions:
            continue
        if rng.random() < 0.04:           # a global service: many clusters
            targets = rng.sample(clusters, min(len(clusters), rng.randint(3, 8)))
        else:
            targets = list(info["clusters"])
            rng.shuffle(targets)
            targets = targets[:weighted(rng, [(1, 55), (2, 35), (3, 10)])]
        # each version runs in a non-empty subset of the targets; group them
        place = {}
        for v in cl_versions:
            sub = [c for c in targets if rng.random() < 0.8] or [targets[0]]
            for c in sub:
                place.setdefault(c.name, (c, []))[1].append(v)
        for cname in sorted(place, key=lambda n: rng.random()):
            c, vs = place[cname]
            # sometimes one line per version, sometimes grouped
            if len(vs) > 1 and rng.random() < 0.3:
                for v in vs:
                    s.cluster_deploys.append(((v,), c, None))
            else:
                sa = None
                if rng.random() < 0.05:
                    sa = rng.choice(["default", "%s-legacy" % s.name[:40].rstrip("-")])
                s.cluster_deploys.append((tuple(vs), c, sa))

    # ---------------- VMs: count per namespace, addresses, placement
    vms = []
    if M:
        placements_ns = {}
        for s in services:
            if s.vm_mode:
                placements_ns.setdefault(s.ns, []).append(s)
        ns_order = [ns for ns in ns_names + ["default"] if ns in placements_ns]
        load = [sum(s.replicas[v] for s in placements_ns[ns] for v in s.vm_versions)
                for ns in ns_order]
        total_load = sum(load)
        # every VM must run something: grow replicas when VMs outnumber
        # placements (tiny service counts against many VMs)
        bump = 0
        while total_load < M and bump < 100000:
            ns = ns_order[bump % len(ns_order)]
            s = placements_ns[ns][(bump // len(ns_order)) % len(placements_ns[ns])]
            v = rng.choice(s.vm_versions)
            s.replicas[v] += 1
            bump += 1
            load = [sum(s.replicas[v] for s in placements_ns[n] for v in s.vm_versions)
                    for n in ns_order]
            total_load = sum(load)
        if len(ns_order) > M:
            raise SystemExit("fewer VMs than namespaces with VM services")
        # VMs per namespace: proportional to load^0.9 (bigger namespaces
        # pack denser), >= 1, <= load
        counts = apportion(M, [l ** 0.9 for l in load], minimum=1)
        # fix counts exceeding load
        for _ in range(10 * len(counts) + 10):
            over = [i for i in range(len(counts)) if counts[i] > load[i]]
            if not over:
                break
            for i in over:
                extra = counts[i] - load[i]
                counts[i] = load[i]
                for _k in range(extra):
                    cands = [j for j in range(len(counts)) if counts[j] < load[j]]
                    counts[min(cands, key=lambda j: (counts[j] / load[j], j))] += 1

        host_seq = {}
        vm_names = set()

        def vm_name(net, addr, ns, role):
            if net.kind == "cloud" and ":" not in addr:
                if net.prov == "eks":
                    base = "ip-" + addr.replace(".", "-")
                elif net.prov == "ack":
                    base = "ecs-%s-%s" % (ns.split("-")[-1][:12], addr.split(".", 2)[2].replace(".", "-"))
                else:
                    base = "%s-%s-vm-%s" % (net.prov, role, addr.split(".", 2)[2].replace(".", "-"))
            else:
                key = (net.name, role)
                host_seq[key] = host_seq.get(key, 0) + 1
                n = host_seq[key]
                base = "%s-r%02d-%s-%04d" % (net.name.replace("dc-", ""), 1 + (n * 7) % 40,
                                             role, n)
            base = base[:63].strip("-")
            name = base
            k = 2
            while name in vm_names or name in used_names:
                name = "%s-%d" % (base[:58], k)
                k += 1
            vm_names.add(name)
            return name

        def next_addr(net, v6=False):
            if v6:
                net.next_off6 += rng.randint(1, 9)
                return "fd7a:115c:a1e0:%x::%x" % (net.idx, 0x100 + net.next_off6)
            net.next_off += rng.randint(1, 5)
            off = net.next_off
            if net.kind == "cloud":
                third, fourth = 8 + off // 250, 1 + off % 250
                if third > 255:
                    raise SystemExit("network %s full" % net.name)
                return "10.%d.%d.%d" % (net.octet, third, fourth)
            third, fourth = 1 + off // 250, 1 + off % 250
            if third > 255:
                raise SystemExit("network %s full" % net.name)
            return "%d.%d.%d.%d" % (net.v4base[0], net.v4base[1], third, fourth)

        for ns, cnt, ld in zip(ns_order, counts, load):
            info = ns_info[ns]
            role = rng.choice(HOST_ROLES)
            ns_vms = []
            for k in range(cnt):
                net = info["vmnets"][k % len(info["vmnets"])] if rng.random() < 0.7 \
                    else rng.choice(info["vmnets"])
                v6 = net.v6 and rng.random() < 0.5
                addr = next_addr(net, v6)
                if rng.random() < 0.3:
                    role = rng.choice(HOST_ROLES)
                vm = VM(vm_name(net, addr, ns, role), net, addr, ns)
                # home control plane: same network if possible, else the
                # namespace's clusters, else any
                local = [c for c in net.clusters if c.cp]
                if local:
                    vm.home = rng.choice(local)
                else:
                    pref = [c for c in info["clusters"] if c.cp]
                    vm.home = rng.choice(pref or cp_clusters)
                ns_vms.append(vm)
            # placement: distinct VMs per service; first cover every VM once,
            # then pile onto "big" hosts (Zipf weights) so a few run 5-12
            items = []
            for s in placements_ns[ns]:
                for v in s.vm_versions:
                    items.append((s, v, min(s.replicas[v], cnt)))
            rng.shuffle(items)
            hosting = {}          # service idx -> set of vm positions
            big = [1.0 / (r + 1) ** 1.1 for r in range(cnt)]
            perm = list(range(cnt))
            rng.shuffle(perm)
            weights = [0.0] * cnt
            for r, p in enumerate(perm):
                weights[p] = big[r]
            cum = []
            acc = 0.0
            for w in weights:
                acc += w
                cum.append(acc)
            empty = list(range(cnt))
            rng.shuffle(empty)

            def pick_weighted(excl):
                import bisect
                for _t in range(64):
                    x = rng.random() * acc
                    p = bisect.bisect_right(cum, x)
                    if p >= cnt:
                        p = cnt - 1
                    if p not in excl and len(ns_vms[p].workloads) < MAX_PER_VM:
                        return p
                rest = [p for p in range(cnt) if p not in excl
                        and len(ns_vms[p].workloads) < MAX_PER_VM]
                if not rest:
                    rest = [p for p in range(cnt) if p not in excl]
                return rng.choice(rest)

            for s, v, reps in items:
                used = hosting.setdefault(s.idx, set())
                for _r in range(reps):
                    if len(used) >= cnt:
                        break
                    p = None
                    while empty:
                        cand = empty.pop()
                        if cand not in used:
                            p = cand
                            break
                        empty.insert(0, cand)
                        if all(e in used for e in empty):
                            break
                    if p is None:
                        p = pick_weighted(used)
                    used.add(p)
                    ns_vms[p].workloads.append((s, v))
                    s.vm_deploys.append((v, ns_vms[p]))
            # any VM left empty (rare): give it a replica of some service
            for p in range(cnt):
                if not ns_vms[p].workloads:
                    for s, v, _reps in items:
                        if p not in hosting[s.idx]:
                            hosting[s.idx].add(p)
                            ns_vms[p].workloads.append((s, v))
                            s.vm_deploys.append((v, ns_vms[p]))
                            break
            vms += ns_vms

        # a namespace with very few VMs cannot hold every VM version of a
        # service (one VM runs one version of a service): drop the versions
        # that found no VM
        for s in services:
            if s.vm_mode:
                got = [v for v in s.vm_versions if any(v == dv for dv, _vm in s.vm_deploys)]
                s.versions = [v for v in s.versions if v not in s.vm_versions or v in got]
                s.vm_versions = got

        # target ports: workloads sharing a VM must listen on distinct ports
        for s in services:
            if not s.vm_deploys:
                continue
            hosts = []
            for v, vm in s.vm_deploys:
                if vm not in hosts:
                    hosts.append(vm)
            busy = set()
            for vm in hosts:
                busy |= vm.ports
            for p in s.ports:
                listen = p[3] or p[1]
                if listen in busy or listen in FORBIDDEN:
                    t = p[1] + 10000 if p[1] < 50000 else p[1] - 20000
                    while t in busy or t in FORBIDDEN or t > 65535 or \
                            any(t == (o[3] or o[1]) for o in s.ports if o is not p):
                        t += 1 + (rng.random() < 0.5)
                        if t > 65535:
                            t = 20000
                    p[3] = t
                    listen = t
                busy.add(listen)
            for vm in hosts:
                vm.ports |= {(p[3] or p[1]) for p in s.ports}

        # VM settings
        for vm in vms:
            st = vm.settings
            distinct = []
            for s, v in vm.workloads:
                if s not in distinct:
                    distinct.append(s)
            if len(distinct) > 1 or rng.random() < 0.1:
                st["service-account"] = "%s-%s" % (vm.ns[:40], rng.choice(
                    ["vm-workloads", "host-identity", "legacy-hosts"]))
            if len(vm.workloads) == 1 and rng.random() < 0.3:
                st["autoregister"] = True
            r = rng.random()
            if ":" in vm.addr:
                st["ssh"] = "ops@%s.%s.example.net" % (vm.name, vm.net.name)
            elif r < 0.35:
                st["ssh"] = "root@%s" % vm.addr
            elif r < 0.5:
                st["ssh"] = "deploy@%s.int.example.com:2222" % vm.name
            elif r < 0.6:
                st["ssh"] = vm.addr
            r = rng.random()
            if r < 0.1:
                st["dns"] = "dnsmasq"
            elif r < 0.15:
                st["dns"] = "hosts"
            elif r < 0.3:
                st["dns"] = "capture"
            if rng.random() < 0.12 and ":" not in vm.addr:
                a, b = vm.addr.split(".")[:2]
                st["dns-server"] = ["%s.%s.0.2" % (a, b)] + (["10.255.255.53"] if rng.random() < 0.4 else [])
            if rng.random() < 0.08:
                st["interception"] = "tproxy"
            if rng.random() < 0.08:
                uid = rng.choice([1337, 2001, 998])
                st["proxy-uid"] = uid
                if rng.random() < 0.5:
                    st["proxy-gid"] = uid + 1
            if rng.random() < 0.2:
                st["inbound-exclude-ports"] = [9100] + ([10050] if rng.random() < 0.5 else [])
            if rng.random() < 0.1:
                st["outbound-exclude-ports"] = rng.sample([25, 53, 123, 389, 514, 6514], rng.randint(1, 2))
            if rng.random() < 0.15 and ":" not in vm.addr:
                st["outbound-exclude-cidrs"] = ["169.254.169.254/32"] + (
                    ["10.250.0.0/16"] if rng.random() < 0.3 else [])
            labels = []
            if rng.random() < 0.6:
                labels.append(("topology.kubernetes.io/zone", "%s-%s" % (vm.net.name[:40], "abc"[rng.randint(0, 2)])))
            if rng.random() < 0.4:
                labels.append(("team", vm.ns.split("-")[0]))
            if rng.random() < 0.2:
                labels.append(("example.com/cost-center", "cc-%04d" % rng.randint(1, 9999)))
            if rng.random() < 0.15:
                labels.append(("os", rng.choice(["rhel8", "ubuntu-22.04", "debian12", "centos7"])))
            st["labels"] = labels
            if len(vm.home.net.clusters) and (len(cp_clusters) > 1 or rng.random() < 0.5):
                st["cluster"] = vm.home.name

        # probes and (VM-hosted) registration
        for s in services:
            if not s.vm_deploys or rng.random() < 0.45:
                continue
            http = [p for p in s.ports if p[0].startswith("http") and not p[0].startswith("https")]
            r = rng.random()
            if http and r < 0.6:
                p = http[0]
                s.probe = ("http", p[3] or p[1], rng.choice(["/healthz", "/ready", "/actuator/health",
                                                             "/health?full=0", "/-/ready"]))
            elif r < 0.9:
                p = s.ports[0]
                s.probe = ("tcp", p[3] or p[1], None)
            else:
                s.probe = ("exec", None, ["/opt/health/check.sh", "--service=%s" % s.name,
                                          "--timeout", "2"])

    # ---------------- calls: DAG over a random order
    order = list(services)
    rng.shuffle(order)
    placed_ns = {}
    pref = []     # each placed service once + once per caller
    placed = []
    uncalled = []  # placed services nobody calls yet (swap-remove list)
    uc_pos = {}
    for pos, s in enumerate(order):
        if pos:
            r = rng.random()
            if r < 0.12:
                k = 0
            elif r < 0.75:
                k = rng.randint(1, 4)
            elif r < 0.95:
                k = rng.randint(3, 7)
            else:
                k = rng.randint(6, 14)
            k = min(k, pos)
            chosen = []
            seen = set()
            attempts = 0
            while len(chosen) < k and attempts < 8 * k + 8:
                attempts += 1
                r = rng.random()
                same = placed_ns.get(s.ns)
                if r < 0.45 and same:
                    t = rng.choice(same)
                elif r < 0.75:
                    t = rng.choice(pref)
                elif r < 0.95 and uncalled:
                    # adopt an orphan: keeps the share of entry points
                    # realistic (~10 %) instead of ~30 %
                    t = uncalled[rng.randrange(len(uncalled))]
                else:
                    t = rng.choice(placed)
                if t.idx in seen:
                    continue
                seen.add(t.idx)
                chosen.append(t)
            for t in chosen:
                s.calls.append(t)
                if t.callers == 0:
                    i = uc_pos.pop(t.idx)
                    last = uncalled.pop()
                    if last is not t:
                        uncalled[i] = last
                        uc_pos[last.idx] = i
                t.callers += 1
                pref.append(t)
        placed.append(s)
        uc_pos[s.idx] = len(uncalled)
        uncalled.append(s)
        pref.append(s)
        placed_ns.setdefault(s.ns, []).append(s)
    for s in services:
        if s.callers == 0:
            s.entry = True
        elif rng.random() < 0.02:
            s.entry = True         # called inside and also exposed at the edge

    # ---------------- routes
    for s in services:
        deployed = list(s.versions)
        if len(deployed) >= 2:
            r = rng.random()
            if r < 0.35:
                ws = []
                rest = 100
                drained = len(deployed) == 3 and rng.random() < 0.3
                order_v = list(deployed)
                rng.shuffle(order_v)
                live = order_v[:-1] if drained else order_v
                for i, v in enumerate(live):
                    if i == len(live) - 1:
                        w = rest
                    else:
                        w = rng.choice([1, 5, 10, 20, 25, 30, 50, 70, 80, 90])
                        w = min(w, rest - (len(live) - 1 - i))
                        w = max(w, 1)
                    rest -= w
                    ws.append((v, w))
                if drained:
                    ws.append((order_v[-1], 0))
                s.routes = sorted(ws, key=lambda x: deployed.index(x[0]))
            elif r < 0.45:
                s.routes = [(deployed[-1], None)]
        elif rng.random() < 0.03:
            s.routes = [(deployed[0], None)]

    return {
        "rng": rng, "clouds": clouds, "dcs": dcs, "nets": all_nets,
        "clusters": clusters, "cp": cp_clusters, "vms": vms,
        "services": services, "ns_names": ns_names, "args": args,
    }


# --------------------------------------------------------------------------
# output


def emit(model, out):
    rng = model["rng"]
    args = model["args"]
    w = out.write
    services = model["services"]
    w("// Synthetic mesh generated by benches/independent_gen.py: services=%d vms=%d clusters=%d seed=%d\n"
      % (args.services, args.vms, args.clusters, args.seed))
    w("// networks=%d namespaces=%d\n\n" % (len(model["nets"]), len(model["ns_names"])
                                           + (1 if any(s.ns == "default" for s in services) else 0)))
    w("mesh synth-estate {\n")
    w('    istio "%s"\n' % args.istio)
    w("    trust-domain corp.example.internal\n")
    w("    mesh-id estate-mesh-1\n")
    if rng.random() < 0.7:
        w('    revision "%s"\n' % args.istio.replace(".", "-"))
    w("    least-privilege #true\n")
    w("}\n\n")

    # networks, each followed by its clusters
    nets = list(model["nets"])
    for net in nets:
        w("// %s network %s\n" % ("cloud" if net.kind == "cloud" else "data-centre", net.name))
        if rng.random() < 0.5 and len(net.cidrs) == 1 and not net.gateway:
            w("network %s cidr=%s\n" % (net.name, q(net.cidrs[0])))
        else:
            w("network %s {\n" % net.name)
            emit_values(w, "cidr", net.cidrs, rng)
            if net.gateway:
                w("    gateway %s\n" % q(net.gateway))
            w("}\n")
        for c in net.clusters:
            emit_cluster(w, c, rng)
        w("\n")

    # namespaces: declaration, then its VMs and services interleaved
    by_ns = {}
    for s in services:
        by_ns.setdefault(s.ns, []).append(s)
    vms_by_ns = {}
    for vm in model["vms"]:
        vms_by_ns.setdefault(vm.ns, []).append(vm)
    ns_list = [ns for ns in model["ns_names"] if ns in by_ns]
    rng.shuffle(ns_list)
    if "default" in by_ns:
        ns_list.insert(rng.randint(0, len(ns_list)), "default")
    for ns in ns_list:
        w("// ===== namespace %s: %d services, %d VMs =====\n"
          % (ns, len(by_ns[ns]), len(vms_by_ns.get(ns, []))))
        if ns != "default" and rng.random() < 0.85:
            emit_namespace(w, ns, rng)
        blocks = [("svc", s) for s in by_ns[ns]] + [("vm", v) for v in vms_by_ns.get(ns, [])]
        # mostly service order with VMs sprinkled in, sometimes all VMs last
        if rng.random() < 0.6:
            rng.shuffle(blocks)
        for kind, obj in blocks:
            if kind == "svc":
                emit_service(w, obj, rng)
            else:
                emit_vm(w, obj, rng)
        w("\n")
    # a disabled (slash-dashed) declaration: must be ignored by the parser
    w("/-vm decommissioned-host {\n    address \"10.0.0.1\"\n    network nowhere\n}\n")


def emit_values(w, key, values, rng):
    """`key` with several values: on one line, or (half the time) one line each."""
    if len(values) > 1 and rng.random() < 0.5:
        for v in values:
            w("    %s %s\n" % (key, q(v)))
    else:
        w("    %s %s\n" % (key, " ".join(q(v) for v in values)))


def emit_cluster(w, c, rng):
    w("cluster %s {\n" % c.name)
    w("    network %s\n" % c.net.name)
    w("    pod-cidr %s\n" % " ".join(q(x) for x in c.pod))
    emit_values(w, "service-cidr", c.svc, rng)
    if c.kube_dns:
        w("    kube-dns %s\n" % q(c.kube_dns))
    if c.domain:
        w("    cluster-domain %s\n" % c.domain)
    if c.cluster_id:
        w("    cluster-id %s\n" % c.cluster_id)
    if c.cp:
        w("    control-plane #true\n")
    elif rng.random() < 0.5:
        w("    control-plane #false  // remote: uses a primary's istiod\n")
    if c.ewgw:
        w("    east-west-gateway %s\n" % q(c.ewgw))
    w("}\n")


def emit_namespace(w, ns, rng):
    r = rng.random()
    lines = []
    if r < 0.15:
        lines.append("injection #true")
    if rng.random() < 0.12:
        lines.append("least-privilege #false")
    labels = []
    if rng.random() < 0.5:
        labels.append(("team", ns.split("-")[0]))
    if rng.random() < 0.3:
        labels.append(("example.com/owner", ns.split("-")[-1]))
    if rng.random() < 0.2:
        labels.append(("pod-security.kubernetes.io/enforce", "baseline"))
    if not lines and not labels:
        w("namespace %s\n" % ns)
        return
    w("namespace %s {\n" % ns)
    for l in lines:
        w("    %s\n" % l)
    emit_labels(w, labels, rng)
    w("}\n")


def emit_labels(w, labels, rng):
    if not labels:
        return
    if len(labels) == 1 or rng.random() < 0.4:
        w("    labels %s\n" % " ".join("%s=%s" % (q(k), q(v)) for k, v in labels))
    else:
        w("    labels {\n")
        for k, v in labels:
            w("        %s %s\n" % (q(k), q(v)))
        w("    }\n")


def ref(caller, callee, rng):
    if callee.ns == caller.ns and rng.random() < 0.9:
        return q(callee.name)
    full = "%s.%s" % (callee.name, callee.ns)
    # KDL v2 identifiers may contain dots: write some bare, some quoted
    return full if rng.random() < 0.5 else q(full)


def emit_service(w, s, rng):
    body = []
    if s.sa:
        body.append("service-account %s" % s.sa)
    for name, num, proto, target in s.ports:
        line = "port %s %d" % (name, num)
        if proto:
            line += " protocol=%s" % proto
        if target:
            line += " target-port=%d" % target
        body.append(line)
    for vs, c, sa in s.cluster_deploys:
        line = "deploy %s cluster=%s" % (" ".join(q(v) for v in vs), c.name)
        if sa:
            line += " service-account=%s" % sa
        body.append(line)
    for v, vm in s.vm_deploys:
        body.append("deploy %s vm=%s" % (q(v), vm.name))
    if s.registration:
        body.append("registration %s" % s.registration)
    for v, wt in s.routes:
        body.append("route %s" % q(v) + ("" if wt is None else " weight=%d" % wt))
    if s.calls:
        refs = [ref(s, t, rng) for t in s.calls]
        if len(refs) > 3 and rng.random() < 0.5:
            cut = rng.randint(1, len(refs) - 1)
            body.append("calls %s" % " ".join(refs[:cut]))
            body.append("calls %s" % " ".join(refs[cut:]))
        elif rng.random() < 0.1:
            for r_ in refs:
                body.append("calls %s" % r_)
        else:
            body.append("calls %s" % " ".join(refs))
    if rng.random() < 0.01:
        body.append("/-calls ghost-dependency-%d" % s.idx)
    if s.probe:
        kind, port, extra = s.probe
        if kind == "http":
            body.append('probe http port=%d path=%s' % (port, q(extra)))
        elif kind == "tcp":
            body.append("probe tcp port=%d" % port)
        else:
            body.append("probe exec {\n        command %s\n    }" % " ".join(q(x) for x in extra))
    if s.entry:
        body.append("entry-point #true")

    head = "service %s" % s.name
    if s.ns != "default":
        if rng.random() < 0.7:
            head += " namespace=%s" % s.ns
        else:
            body.insert(0, "namespace %s" % s.ns)
    elif rng.random() < 0.3:
        body.insert(0, "namespace default")
    if len(body) <= 3 and not s.probe and rng.random() < 0.4:
        w("%s { %s }\n" % (head, "; ".join(body)))
    else:
        w("%s {\n" % head)
        for line in body:
            w("    %s\n" % line)
        w("}\n")


def emit_vm(w, vm, rng):
    st = vm.settings
    w("vm %s {\n" % vm.name)
    if rng.random() < 0.5:
        w("    address %s\n    network %s\n" % (q(vm.addr), vm.net.name))
    else:
        w("    network %s\n    address %s\n" % (vm.net.name, q(vm.addr)))
    if "cluster" in st:
        w("    cluster %s\n" % st["cluster"])
    for key in ("ssh", "service-account", "dns", "interception"):
        if key in st:
            w("    %s %s\n" % (key, q(st[key])))
    for key in ("proxy-uid", "proxy-gid"):
        if key in st:
            w("    %s %d\n" % (key, st[key]))
    for key in ("dns-server", "outbound-exclude-cidrs"):
        if key in st:
            w("    %s %s\n" % (key, " ".join(q(x) for x in st[key])))
    for key in ("inbound-exclude-ports", "outbound-exclude-ports"):
        if key in st:
            w("    %s %s\n" % (key, " ".join(str(x) for x in st[key])))
    if st.get("autoregister"):
        w("    autoregister #true\n")
    emit_labels(w, st.get("labels", []), rng)
    if len(vm.workloads) >= 5:
        w("    // shared host: %d workloads\n" % len(vm.workloads))
    w("}\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--services", type=int, required=True)
    ap.add_argument("--vms", type=int, required=True)
    ap.add_argument("--clusters", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--istio", default="1.24", help="Istio version (1.8 or later)")
    args = ap.parse_args(argv)
    model = build(args)
    out = sys.stdout
    try:
        emit(model, out)
        out.flush()
    except BrokenPipeError:
        sys.stderr.close()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
