//! Where each key of one short list was first seen: a service's ports,
//! its deployments. Rules use one per run, emptied per list.
//!
//! A `BTreeMap` emptied with `clear` frees its nodes, so a map per list
//! was one or two fresh allocations per service; a short list is searched
//! in a reused vector instead, and only a list longer than `SHORT` (a
//! hostile one, say) moves to a map, so the search never turns quadratic.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use crate::source::Span;

/// Keys kept in the vector before the map takes over.
const SHORT: usize = 16;

pub struct FirstSeen<K> {
    short: Vec<(K, Span)>,
    long: BTreeMap<K, Span>,
}

impl<K> Default for FirstSeen<K> {
    fn default() -> Self {
        FirstSeen {
            short: Vec::new(),
            long: BTreeMap::new(),
        }
    }
}

impl<K: Ord + Copy> FirstSeen<K> {
    /// Forgets every key (keeping the vector's room).
    pub fn clear(&mut self) {
        self.short.clear();
        self.long.clear();
    }

    /// `None` the first time `key` is seen (remembering it at `span`);
    /// afterwards, where it was first seen.
    pub fn first(&mut self, key: K, span: Span) -> Option<Span> {
        if self.long.is_empty() {
            if let Some(&(_, first)) = self.short.iter().find(|(k, _)| *k == key) {
                return Some(first);
            }
            if self.short.len() < SHORT {
                self.short.push((key, span));
                return None;
            }
            self.long.extend(self.short.drain(..));
        }
        match self.long.entry(key) {
            Entry::Occupied(e) => Some(*e.get()),
            Entry::Vacant(e) => {
                e.insert(span);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same answers as a map, on either side of the switch to one and
    /// after emptying.
    #[test]
    fn answers_as_a_map_does() {
        let mut seen = FirstSeen::default();
        for round in 0..2 {
            let mut map = BTreeMap::new();
            for i in 0..(3 * SHORT) {
                // SHORT + 5 keys (5 is prime to it), each coming back, in a
                // scrambled order.
                let key = (i * 5) % (SHORT + 5);
                let span = Span::new(i, i + 1 + round);
                let want = match map.get(&key) {
                    Some(&first) => Some(first),
                    None => {
                        map.insert(key, span);
                        None
                    }
                };
                assert_eq!(seen.first(key, span), want, "round {round}, step {i}");
            }
            assert_eq!(map.len(), SHORT + 5, "the map took over");
            seen.clear();
        }
    }
}
