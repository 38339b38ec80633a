//! The query caches: tier files in memory with their parsed footers, and decoded row groups.
//! Both are bounded in bytes and let the least recently used entry go first. Tier files never
//! change after they are written (a path names its flush, level and a random part: it is not reused), so neither cache is ever stale.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

/// What a cached value costs in memory.
pub(crate) trait Weight {
    fn bytes(&self) -> usize;
}

/// A least-recently-used map bounded by the bytes of its values.
#[derive(Debug)]
pub(crate) struct Lru<K, V> {
    entries: HashMap<K, (Arc<V>, u64)>,
    bytes: usize,
    capacity: usize,
    clock: u64,
}

impl<K: Eq + Hash + Clone, V: Weight> Lru<K, V> {
    pub(crate) fn new(capacity: u64) -> Lru<K, V> {
        Lru {
            entries: HashMap::new(),
            bytes: 0,
            capacity: usize::try_from(capacity).unwrap_or(usize::MAX),
            clock: 0,
        }
    }

    pub(crate) fn get(&mut self, key: &K) -> Option<Arc<V>> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(key).map(|(value, used)| {
            *used = clock;
            value.clone()
        })
    }

    /// Keeps `value` unless it alone is larger than the cache; lets the least recently used
    /// entries go until the rest fits.
    pub(crate) fn insert(&mut self, key: K, value: Arc<V>) {
        let size = value.bytes();
        if size > self.capacity {
            return;
        }
        self.clock += 1;
        self.bytes += size;
        if let Some((old, _)) = self.entries.insert(key, (value, self.clock)) {
            self.bytes -= old.bytes();
        }
        while self.bytes > self.capacity {
            let Some(oldest) = self.entries.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some((gone, _)) = self.entries.remove(&oldest) {
                self.bytes -= gone.bytes();
            }
        }
    }

    /// Bytes held.
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests may panic")]
mod tests {
    use super::*;

    impl Weight for Vec<u8> {
        fn bytes(&self) -> usize {
            self.len()
        }
    }

    #[test]
    fn the_least_recently_used_goes_first_and_the_bound_holds() {
        let mut lru: Lru<u32, Vec<u8>> = Lru::new(10);
        lru.insert(1, Arc::new(vec![0; 4]));
        lru.insert(2, Arc::new(vec![0; 4]));
        assert!(lru.get(&1).is_some());
        lru.insert(3, Arc::new(vec![0; 4]));
        assert!(lru.get(&2).is_none(), "2 was used least recently");
        assert!(lru.get(&1).is_some() && lru.get(&3).is_some());
        assert_eq!(lru.held(), 8);
        lru.insert(4, Arc::new(vec![0; 11]));
        assert!(lru.get(&4).is_none(), "larger than the whole cache: not kept");
        assert_eq!(lru.held(), 8);
    }
}
