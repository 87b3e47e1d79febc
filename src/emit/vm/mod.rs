//! The VM-side files of Istio mesh expansion: every file of a VM's bundle
//! (`bundle` lists them: `cluster.env`, `sidecar.env`, `mesh.yaml`,
//! `hosts`, `dnsmasq.conf`, the iptables rules and script, the systemd
//! drop-in, `install.sh`, …), byte-compatible where Istio has a reference
//! with what `istioctl x workload entry configure` (modern) and
//! `setupMeshEx.sh` (legacy) write.
//!
//! Every function here is pure: plain input structs in, file bytes out, no
//! I/O. Env files take [`quote::EnvKey`]s and [`quote::EnvValue`]s, which
//! cannot hold what no file can carry safely (a key that is not a shell
//! name, a NUL in a value): the bundle builds them from what `check` proved
//! (`check::Word`), so its writers cannot fail; see [`quote`] for the
//! quoting rules and where meshc deliberately departs from istioctl.

pub mod bundle;
pub mod cluster_env;
pub mod dnsmasq;
pub mod env_keys;
pub mod hosts;
pub mod install_sh;
pub mod iptables_rules;
pub mod iptables_sh;
pub mod mesh_yaml;
pub mod operator;
pub mod plan;
pub mod quote;
pub mod sidecar_env;
pub mod text;
