//! The rules, one per file. `ALL` is the order they run in; the order of
//! findings does not depend on it (they are sorted by position).
//!
//! Codes are grouped by what they judge: `E3xx` references and scope,
//! `E4xx` names, `E5xx` addresses, `E6xx` ports, `E7xx` reachability and
//! routing, `E8xx` the Istio flow, `W9xx` warnings. `lexical` and `ranges`
//! are not rules: they hold the name classes and the address-range sweep
//! that several rules share; nor is `first_seen`, the table of first
//! occurrences that rules finding duplicates share.

use super::Rule;

mod first_seen;
pub(super) mod lexical;
mod ranges;

mod address_family_mismatch;
pub(super) mod ambiguous_home_cluster;
mod autoregister_shared_vm;
mod call_to_undeployed_service;
mod control_planes_disagree_on_domain;
mod dependency_cycle;
mod derived_name_too_long;
mod dialled_address_in_cluster_range;
mod dnsmasq_in_workload_entry_flow;
mod duplicate_cluster_id;
mod duplicate_deployment;
mod duplicate_name;
mod duplicate_port;
mod duplicate_route;
mod duplicate_vm_address;
mod empty_namespace;
mod home_cluster_unreachable;
mod home_cluster_without_control_plane;
mod hosts_dns_with_calls;
mod idle_vm;
pub(super) mod invalid_dns_label;
pub(super) mod invalid_dns_subdomain;
mod invalid_label_key;
pub(super) mod invalid_label_value;
mod invalid_probe;
pub(super) mod invalid_service_name;
pub(super) mod invalid_ssh_target;
pub(super) mod invalid_version;
mod kube_dns_outside_service_range;
mod no_control_plane;
mod no_gateway_across_networks;
mod overlapping_cluster_ranges;
mod port_excluded_from_capture;
mod protocol_name_mismatch;
mod proxy_id_root;
mod proxy_id_shared;
mod reserved_label;
mod reserved_sidecar_port;
mod route_to_undeployed_version;
mod route_weights;
mod server_first_port_undeclared;
mod setting_of_other_flow;
mod ssh_port_captured;
mod unknown_reference;
mod unreachable_version;
mod unrealisable_network_gateway;
mod unsupported_istio_version;
mod unusable_address;
mod unused_service;
mod vm_address_in_cluster_range;
mod vm_address_outside_network;
mod vm_identity_conflict;
mod vm_namespace_mix;
mod vm_port_conflict;

pub static ALL: &[&Rule] = &[
    // E3xx: references and scope.
    &unknown_reference::RULE,
    &duplicate_name::RULE,
    &duplicate_deployment::RULE,
    &vm_namespace_mix::RULE,
    &ambiguous_home_cluster::RULE,
    &home_cluster_without_control_plane::RULE,
    &vm_identity_conflict::RULE,
    &autoregister_shared_vm::RULE,
    // E4xx: names.
    &invalid_dns_label::RULE,
    &invalid_service_name::RULE,
    &invalid_version::RULE,
    &invalid_label_value::RULE,
    &invalid_label_key::RULE,
    &invalid_dns_subdomain::RULE,
    &invalid_ssh_target::RULE,
    &derived_name_too_long::RULE,
    &reserved_label::RULE,
    &invalid_probe::RULE,
    // E5xx: addresses.
    &vm_address_in_cluster_range::RULE,
    &overlapping_cluster_ranges::RULE,
    &duplicate_vm_address::RULE,
    &kube_dns_outside_service_range::RULE,
    &address_family_mismatch::RULE,
    &vm_address_outside_network::RULE,
    &unusable_address::RULE,
    &dialled_address_in_cluster_range::RULE,
    // E6xx: ports.
    &duplicate_port::RULE,
    &vm_port_conflict::RULE,
    &reserved_sidecar_port::RULE,
    &port_excluded_from_capture::RULE,
    &ssh_port_captured::RULE,
    &protocol_name_mismatch::RULE,
    &server_first_port_undeclared::RULE,
    // E7xx: reachability and routing.
    &no_control_plane::RULE,
    &home_cluster_unreachable::RULE,
    &no_gateway_across_networks::RULE,
    &call_to_undeployed_service::RULE,
    &route_to_undeployed_version::RULE,
    &route_weights::RULE,
    &duplicate_route::RULE,
    &control_planes_disagree_on_domain::RULE,
    &duplicate_cluster_id::RULE,
    &unrealisable_network_gateway::RULE,
    // E8xx: the Istio flow.
    &unsupported_istio_version::RULE,
    &setting_of_other_flow::LEGACY_RULE,
    &setting_of_other_flow::MODERN_RULE,
    &proxy_id_root::RULE,
    &dnsmasq_in_workload_entry_flow::RULE,
    &hosts_dns_with_calls::RULE,
    // W9xx: warnings.
    &dependency_cycle::RULE,
    &idle_vm::RULE,
    &empty_namespace::RULE,
    &unused_service::RULE,
    &unreachable_version::RULE,
    &proxy_id_shared::RULE,
];
