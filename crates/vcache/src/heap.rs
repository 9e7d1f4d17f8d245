//! The extent heap: which units (extents of the configured size) of the pool are free.
//!
//! Free space is a set of runs of units, kept coalesced, indexed twice: by start (to merge a
//! freed run with its neighbours) and by length (best fit). A value takes the smallest run that
//! holds it whole; where none does, it is scattered over the largest runs, so a put never fails
//! while the free units add up to the value. The pool is committed (its file blocks allocated)
//! from the front as the heap needs it, never handed out before. This module knows nothing of
//! memory: it deals in unit numbers only.

use std::collections::{BTreeMap, BTreeSet};

/// A run of units: `[start, start + len)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    /// First unit.
    pub start: u64,
    /// Number of units (at least 1).
    pub len: u64,
}

/// The runs of one value: one run inline (the common case), else a boxed list.
#[derive(Debug)]
pub enum Runs {
    /// The value lies in one run.
    One(Run),
    /// The value is scattered over several runs.
    Many(Box<[Run]>),
}

impl Runs {
    /// The runs, in value order.
    pub fn as_slice(&self) -> &[Run] {
        match self {
            Runs::One(r) => std::slice::from_ref(r),
            Runs::Many(v) => v,
        }
    }
}

/// Free units of a pool of `total` units, of which `[0, committed)` may be handed out.
#[derive(Debug)]
pub struct Heap {
    by_start: BTreeMap<u64, u64>,
    by_len: BTreeSet<(u64, u64)>,
    free: u64,
    committed: u64,
    total: u64,
    /// Units committed at a time (a whole granule's worth), at least 1.
    step: u64,
    /// Set once committing failed (the filesystem is full): the heap stops growing.
    stuck: bool,
}

impl Heap {
    /// A heap of `total` units, none committed yet; it commits `step` units at a time.
    pub fn new(total: u64, step: u64) -> Heap {
        Heap {
            by_start: BTreeMap::new(),
            by_len: BTreeSet::new(),
            free: 0,
            committed: 0,
            total,
            step: step.max(1),
            stuck: false,
        }
    }

    /// Units in use by values.
    pub fn used(&self) -> u64 {
        self.committed - self.free
    }

    /// Units not in use (committed or not).
    pub fn available(&self) -> u64 {
        self.total - self.used()
    }

    /// Discontiguous free regions, the uncommitted tail counted with the run before it.
    pub fn entries(&self) -> u64 {
        let runs = self.by_start.len() as u64;
        let tail_alone = self.committed < self.total
            && self.by_start.last_key_value().is_none_or(|(s, l)| s + l != self.committed);
        runs + u64::from(tail_alone)
    }

    /// Takes `n` units, in as few runs as it can: one run of the best fit, else the largest runs
    /// until `n` is covered. `commit(first, count)` allocates the backing of units before they are
    /// first handed out; where it fails the heap keeps what it has. `None`: fewer than `n` units
    /// are free (the caller evicts and retries) or `n` is 0 (nothing to take).
    pub fn alloc(&mut self, n: u64, commit: &mut dyn FnMut(u64, u64) -> bool) -> Option<Runs> {
        if n == 0 {
            return Some(Runs::Many(Box::new([])));
        }
        if let Some(run) = self.best_fit(n) {
            return Some(Runs::One(run));
        }
        if self.grow(n, commit) {
            if let Some(run) = self.best_fit(n) {
                return Some(Runs::One(run));
            }
        }
        if self.free < n {
            return None;
        }
        let mut runs = Vec::new();
        let mut left = n;
        while left > 0 {
            let &(len, start) = self.by_len.last().expect("free units add up to n");
            let take = len.min(left);
            self.remove(start, len);
            if take < len {
                self.insert(start + take, len - take);
            }
            runs.push(Run { start, len: take });
            left -= take;
        }
        self.free -= n;
        Some(Runs::Many(runs.into_boxed_slice()))
    }

    fn best_fit(&mut self, n: u64) -> Option<Run> {
        let &(len, start) = self.by_len.range((n, 0)..).next()?;
        self.remove(start, len);
        if len > n {
            self.insert(start + n, len - n);
        }
        self.free -= n;
        Some(Run { start, len: n })
    }

    /// Commits enough of the tail for `n` more contiguous units (at least one step).
    fn grow(&mut self, n: u64, commit: &mut dyn FnMut(u64, u64) -> bool) -> bool {
        if self.stuck || self.committed == self.total {
            return false;
        }
        let want = n.div_ceil(self.step) * self.step;
        let count = want.min(self.total - self.committed);
        if !commit(self.committed, count) {
            self.stuck = true;
            return false;
        }
        let start = self.committed;
        self.committed += count;
        self.release(Run { start, len: count });
        true
    }

    /// Returns runs taken by `alloc`.
    pub fn free(&mut self, runs: &[Run]) {
        for &run in runs {
            self.release(run);
        }
    }

    fn release(&mut self, run: Run) {
        let (mut start, mut len) = (run.start, run.len);
        self.free += len;
        if let Some((&s, &l)) = self.by_start.range(..start).next_back() {
            debug_assert!(s + l <= start, "double free of units {start}..{}", start + len);
            if s + l == start {
                self.remove(s, l);
                start = s;
                len += l;
            }
        }
        if let Some(&l) = self.by_start.get(&(start + len)) {
            self.remove(start + len, l);
            len += l;
        }
        self.insert(start, len);
    }

    fn insert(&mut self, start: u64, len: u64) {
        self.by_start.insert(start, len);
        self.by_len.insert((len, start));
    }

    fn remove(&mut self, start: u64, len: u64) {
        self.by_start.remove(&start);
        self.by_len.remove(&(len, start));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(_: u64, _: u64) -> bool {
        true
    }

    #[test]
    fn scatters_when_no_run_fits() {
        let mut h = Heap::new(10, 10);
        let a = h.alloc(3, &mut all).unwrap();
        let b = h.alloc(3, &mut all).unwrap();
        let c = h.alloc(3, &mut all).unwrap();
        h.free(a.as_slice());
        h.free(c.as_slice()); // free: [0,3) and [6,10)
        assert_eq!(h.entries(), 2);
        let d = h.alloc(6, &mut all).unwrap();
        let d = d.as_slice();
        assert_eq!(d.iter().map(|r| r.len).sum::<u64>(), 6);
        assert_eq!(d.len(), 2);
        assert_eq!(h.available(), 1);
        assert!(h.alloc(2, &mut all).is_none());
        h.free(b.as_slice());
        h.free(d);
        assert_eq!(h.entries(), 1);
        assert_eq!(h.available(), 10);
    }

    #[test]
    fn grows_in_steps_and_stops_when_commit_fails() {
        let mut h = Heap::new(100, 16);
        let mut calls = Vec::new();
        let r = h.alloc(5, &mut |s, c| {
            calls.push((s, c));
            true
        });
        assert_eq!(r.unwrap().as_slice(), &[Run { start: 0, len: 5 }]);
        assert_eq!(calls, vec![(0, 16)]);
        assert!(h.alloc(20, &mut |_, _| false).is_none());
        assert_eq!(h.used(), 5);
        assert!(h.alloc(11, &mut all).is_some(), "what was committed is still usable");
    }
}
