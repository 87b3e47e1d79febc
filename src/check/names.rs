//! `Names`: the index's table from a declared name to its id.
//!
//! It replaced `BTreeMap<String, Id>`, which cloned every name into a key
//! of its own and compared strings about log₂ n times per lookup: at 10k
//! services those maps were about a sixth of `check`'s instructions and
//! most of its `memcmp`. Here every key is copied once into one text, and
//! a lookup hashes the name and compares it with one stored key, in the
//! usual case.
//!
//! A key has two parts (a service's namespace and name; the other tables
//! leave the first empty), compared part by part, so no separator can make
//! two different pairs equal.
//!
//! Nothing reaches output through the hash: the table is never iterated in
//! slot order. `keys` gives the names in insertion order; whoever needs
//! them sorted sorts them. The hash is keyed by a random secret per table
//! (drawn from std's `RandomState`, as `HashMap`'s keys are), so that a
//! file cannot be written to make its names collide and every lookup cost
//! a scan, where a B-tree's stayed logarithmic. It folds 8 bytes at a time
//! with one 64 × 64 → 128-bit multiply (as foldhash does): std's SipHash,
//! tried first, cost about 390 instructions per lookup here.

use std::hash::{BuildHasher, RandomState};

use super::id::Id;

/// A name → id table that keeps the first id inserted under each name.
#[derive(Clone, Debug)]
pub struct Names<I> {
    /// Every key, laid end to end.
    text: String,
    /// Per key, in insertion order: where its parts lie in `text`, and its id.
    keys: Vec<Key<I>>,
    /// Open addressing: a key's hash (its high half, compared before the
    /// text) and 0 for an empty slot or `k + 1` for `keys[k]`. Its length
    /// is a power of two; at most three quarters of it are taken.
    slots: Vec<(u32, u32)>,
    /// The hash's secret: odd, so no multiply by it loses bits.
    secret: u64,
}

impl<I> Default for Names<I> {
    fn default() -> Self {
        Names {
            text: String::new(),
            keys: Vec::new(),
            slots: Vec::new(),
            secret: secret(),
        }
    }
}

/// A random odd number, different for each table.
fn secret() -> u64 {
    RandomState::new().hash_one(0x9e37_79b9_7f4a_7c15_u64) | 1
}

/// The two halves of `a × b` xor-ed.
fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    // The halves of the product, by design.
    (p as u64) ^ ((p >> 64) as u64)
}

/// `h` with `bytes` folded in, 8 at a time; the last 1 to 7 read as two
/// overlapping halves (the caller folds in the length).
fn fold_bytes(mut h: u64, bytes: &[u8], k: u64) -> u64 {
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        h = fold(
            h ^ u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]),
            k,
        );
    }
    let rest = words.remainder();
    let n = rest.len();
    let last = match n {
        0 => return h,
        1..=3 => u64::from(rest[0]) | u64::from(rest[n / 2]) << 8 | u64::from(rest[n - 1]) << 16,
        _ => {
            let first = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
            let end = u32::from_le_bytes([rest[n - 4], rest[n - 3], rest[n - 2], rest[n - 1]]);
            u64::from(first) | u64::from(end) << 32
        }
    };
    fold(h ^ last, k)
}

/// A position in a list of one's own, as a `Names` id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position(pub usize);

impl Id for Position {
    fn new(index: usize) -> Self {
        Position(index)
    }
    fn index(self) -> usize {
        self.0
    }
}

#[derive(Clone, Copy, Debug)]
struct Key<I> {
    start: usize,
    split: usize,
    end: usize,
    id: I,
}

impl<I: Id> Names<I> {
    /// A table for about `n` names.
    pub fn with_capacity(n: usize) -> Names<I> {
        Names {
            text: String::new(),
            keys: Vec::with_capacity(n),
            slots: vec![(0, 0); (n + n / 3 + 1).next_power_of_two().max(8)],
            secret: secret(),
        }
    }

    /// The id of `name`.
    pub fn get(&self, name: &str) -> Option<I> {
        self.get_in("", name)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Adds `name` unless it is there already; true when added.
    pub fn insert(&mut self, name: &str, id: I) -> bool {
        self.insert_in("", name, id)
    }

    /// The id of `name` in `scope`.
    pub fn get_in(&self, scope: &str, name: &str) -> Option<I> {
        if self.slots.is_empty() {
            return None;
        }
        match self.slots[self.find(scope, name).0] {
            (_, 0) => None,
            (_, k) => Some(self.keys[k as usize - 1].id),
        }
    }

    /// Adds `name` in `scope` unless it is there already; true when added.
    pub fn insert_in(&mut self, scope: &str, name: &str, id: I) -> bool {
        if 4 * (self.keys.len() + 1) > 3 * self.slots.len() {
            self.grow();
        }
        let (slot, tag) = self.find(scope, name);
        if self.slots[slot].1 != 0 {
            return false;
        }
        let start = self.text.len();
        self.text.push_str(scope);
        let split = self.text.len();
        self.text.push_str(name);
        self.keys.push(Key {
            start,
            split,
            end: self.text.len(),
            id,
        });
        // At most three quarters of the slots are taken, and a topology holds far fewer
        // than 2³¹ names (its text is at most a few hundred MB).
        self.slots[slot] = (tag, u32::try_from(self.keys.len()).unwrap_or(u32::MAX));
        true
    }

    /// Every key (the name part) with its id, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, I)> + '_ {
        self.keys.iter().map(|k| (&self.text[k.split..k.end], k.id))
    }

    /// Every name (without its scope), in insertion order.
    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.iter().map(|(name, _)| name)
    }

    /// Every key as (scope, name), in insertion order.
    pub fn scoped_keys(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        (self.keys.iter()).map(|k| (&self.text[k.start..k.split], &self.text[k.split..k.end]))
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn hash(&self, scope: &str, name: &str) -> u64 {
        let k = self.secret;
        let h = fold(k ^ scope.len() as u64, k);
        let h = fold_bytes(fold_bytes(h, scope.as_bytes(), k), name.as_bytes(), k);
        fold(h ^ name.len() as u64, k)
    }

    /// The slot that holds `scope`/`name`, or the empty slot where it goes,
    /// and the key's tag.
    fn find(&self, scope: &str, name: &str) -> (usize, u32) {
        let mask = self.slots.len() - 1;
        let hash = self.hash(scope, name);
        // The low bits pick the slot, the high ones are the tag (truncation
        // is the point).
        let (mut slot, tag) = (hash as usize & mask, (hash >> 32) as u32);
        let text = self.text.as_bytes();
        loop {
            match self.slots[slot] {
                (_, 0) => return (slot, tag),
                (t, k) if t == tag => {
                    let key = &self.keys[k as usize - 1];
                    if &text[key.split..key.end] == name.as_bytes()
                        && &text[key.start..key.split] == scope.as_bytes()
                    {
                        return (slot, tag);
                    }
                }
                _ => {}
            }
            slot = (slot + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let len = (2 * self.slots.len()).max(8);
        self.slots = vec![(0, 0); len];
        for k in 0..self.keys.len() {
            let key = self.keys[k];
            let (slot, tag) = self.find(&self.text[key.start..key.split], &self.text[key.split..key.end]);
            self.slots[slot] = (tag, u32::try_from(k + 1).unwrap_or(u32::MAX));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::VmId;

    /// The first id under a name stays; names are told apart by scope, and a
    /// scope and name are not one string joined.
    #[test]
    fn keeps_the_first_and_tells_scopes_apart() {
        let mut names: Names<VmId> = Names::with_capacity(2);
        let id = VmId::new;
        assert!(names.insert("db", id(0)));
        assert!(!names.insert("db", id(1)));
        assert!(names.insert_in("a.b", "c", id(2)));
        assert!(names.insert_in("a", "b.c", id(3)));
        assert!(names.insert_in("", "a.bc", id(4)));
        assert!(names.insert_in("x", "svc", id(5)));
        assert!(names.insert_in("y", "svc", id(6)));
        assert_eq!(names.get_in("y", "svc"), Some(id(6)));
        assert_eq!(names.get_in("x", "svc"), Some(id(5)));
        assert_eq!(names.get("svc"), None);
        assert_eq!(names.get("db"), Some(id(0)));
        assert_eq!(names.get_in("a.b", "c"), Some(id(2)));
        assert_eq!(names.get_in("a", "b.c"), Some(id(3)));
        assert_eq!(names.get("a.bc"), Some(id(4)));
        assert_eq!(names.get_in("a.b", "c.d"), None);
        assert_eq!(names.get("d"), None);
        assert_eq!(
            names.keys().collect::<Vec<_>>(),
            ["db", "c", "b.c", "a.bc", "svc", "svc"]
        );
    }

    /// Growing past the first size keeps every name findable, each with its
    /// own id, and an empty table finds nothing.
    #[test]
    fn finds_every_name_after_growing() {
        assert_eq!(Names::<VmId>::default().get("x"), None);
        let mut names: Names<VmId> = Names::default();
        for i in 0..5000 {
            assert!(names.insert(&format!("vm-{i}"), VmId::new(i)));
        }
        for i in 0..5000 {
            assert_eq!(names.get(&format!("vm-{i}")), Some(VmId::new(i)));
        }
        assert_eq!(names.get("vm-5000"), None);
        assert_eq!(names.len(), 5000);
    }
}
