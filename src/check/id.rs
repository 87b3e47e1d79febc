//! Typed ids: what `Index` hands out instead of bare `usize`, so that a VM
//! id cannot index the clusters, nor a service id the workloads.
//!
//! Each id is the position of a declaration in its `Topology` vector
//! (`VmId` in `Topology::vms`, …) or, for `WorkloadId`, in
//! `Index::workloads`. The model's vectors are indexed by their id
//! directly (`topo.vms[vm]`); a table with one entry per declaration is an
//! [`IdVec`], indexed only by its own id:
//!
//! ```
//! use meshc::check::{Id, Index, VmId};
//! fn first_vm_workloads(ix: &Index) -> usize {
//!     ix.vm_workloads[VmId::new(0)].len()
//! }
//! ```
//!
//! while the same lookup by a cluster's id does not compile:
//!
//! ```compile_fail
//! use meshc::check::{ClusterId, Id, Index};
//! fn first_vm_workloads(ix: &Index) -> usize {
//!     ix.vm_workloads[ClusterId::new(0)].len()
//! }
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::ops;

use crate::model::{Cluster, Network, Service, Topology, Vm};

use super::Workload;

/// A typed position.
pub trait Id: Copy + Ord + fmt::Debug {
    fn new(index: usize) -> Self;
    fn index(self) -> usize;
}

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident indexes $what:ty;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(usize);

        impl Id for $name {
            fn new(index: usize) -> Self {
                $name(index)
            }
            fn index(self) -> usize {
                self.0
            }
        }

        impl $name {
            /// The position, for a table that is not (yet) an `IdVec`.
            pub fn index(self) -> usize {
                self.0
            }
        }

        /// The bare position (graph node names, debugging).
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl ops::Index<$name> for Vec<$what> {
            type Output = $what;
            fn index(&self, id: $name) -> &$what {
                &self[id.0]
            }
        }
    )*};
}

ids! {
    /// A network: its position in `Topology::networks`.
    NetworkId indexes Network;
    /// A cluster: its position in `Topology::clusters`.
    ClusterId indexes Cluster;
    /// A VM: its position in `Topology::vms`.
    VmId indexes Vm;
    /// A service: its position in `Topology::services`.
    ServiceId indexes Service;
    /// A workload: its position in `Index::workloads`.
    WorkloadId indexes Workload;
}

/// Every id of a declaration vector, with its element.
pub fn enumerate<I: Id, T>(items: &[T]) -> impl DoubleEndedIterator<Item = (I, &T)> + ExactSizeIterator {
    items.iter().enumerate().map(|(i, t)| (I::new(i), t))
}

impl Topology {
    pub fn network_ids(&self) -> impl DoubleEndedIterator<Item = (NetworkId, &Network)> + ExactSizeIterator {
        enumerate(&self.networks)
    }
    pub fn cluster_ids(&self) -> impl DoubleEndedIterator<Item = (ClusterId, &Cluster)> + ExactSizeIterator {
        enumerate(&self.clusters)
    }
    pub fn vm_ids(&self) -> impl DoubleEndedIterator<Item = (VmId, &Vm)> + ExactSizeIterator {
        enumerate(&self.vms)
    }
    pub fn service_ids(&self) -> impl DoubleEndedIterator<Item = (ServiceId, &Service)> + ExactSizeIterator {
        enumerate(&self.services)
    }
}

/// A table with one entry per id of one kind, indexed only by that id.
#[derive(Clone, PartialEq, Eq)]
pub struct IdVec<I, T> {
    items: Vec<T>,
    id: PhantomData<fn(I)>,
}

impl<I: Id, T> IdVec<I, T> {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn get(&self, id: I) -> Option<&T> {
        self.items.get(id.index())
    }

    /// The entries, in id order.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }

    /// Every id with its entry.
    pub fn iter_enumerated(&self) -> impl DoubleEndedIterator<Item = (I, &T)> + ExactSizeIterator {
        enumerate(&self.items)
    }

    /// Appends an entry; returns its id.
    pub fn push(&mut self, value: T) -> I {
        self.items.push(value);
        I::new(self.items.len() - 1)
    }

    /// Room for `additional` more entries.
    pub fn reserve(&mut self, additional: usize) {
        self.items.reserve_exact(additional);
    }

    /// `count` copies of `value`.
    pub fn filled(value: T, count: usize) -> Self
    where
        T: Clone,
    {
        vec![value; count].into()
    }
}

impl<I, T> Default for IdVec<I, T> {
    fn default() -> Self {
        IdVec {
            items: Vec::new(),
            id: PhantomData,
        }
    }
}

impl<I, T> From<Vec<T>> for IdVec<I, T> {
    fn from(items: Vec<T>) -> Self {
        IdVec {
            items,
            id: PhantomData,
        }
    }
}

impl<I, T> FromIterator<T> for IdVec<I, T> {
    fn from_iter<It: IntoIterator<Item = T>>(iter: It) -> Self {
        Vec::from_iter(iter).into()
    }
}

impl<I: Id, T> ops::Index<I> for IdVec<I, T> {
    type Output = T;
    fn index(&self, id: I) -> &T {
        &self.items[id.index()]
    }
}

impl<I: Id, T> ops::IndexMut<I> for IdVec<I, T> {
    fn index_mut(&mut self, id: I) -> &mut T {
        &mut self.items[id.index()]
    }
}

impl<'a, I, T> IntoIterator for &'a IdVec<I, T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl<I, T: fmt::Debug> fmt::Debug for IdVec<I, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.items.fmt(f)
    }
}
