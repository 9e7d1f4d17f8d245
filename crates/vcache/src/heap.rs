//! The extent heap: which units (extents of the configured size) of the pool are free.
//!
//! Free space is a set of runs of units, kept coalesced. Each run is a node in a slab, found in
//! O(1) by its first unit and by the unit past its end (so a freed run merges with both free
//! neighbours in two hash lookups), and linked into the free list of its length; a bitmap says
//! which lengths have a run, so the best fit is a scan of a few words. Runs longer than the
//! lists cover (the committed tail while the pool fills, rarely anything after) sit in an
//! ordered set. A value takes the smallest run that holds it whole; where none does, it is
//! scattered over the largest runs, so a put never fails while the free units add up to the
//! value. The pool is committed (its file blocks allocated) from the front as the heap needs it,
//! never handed out before. This module knows nothing of memory: it deals in unit numbers only.

use std::collections::BTreeSet;

use hashbrown::HashMap;

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

const NIL: u32 = u32::MAX;

/// Lengths up to this many units have a free list of their own; longer runs are kept ordered.
const LISTED: usize = 4096;
const WORDS: usize = LISTED / 64 + 1;

/// A free run, linked into the list of its length (unless longer than `LISTED`).
#[derive(Clone, Copy, Debug)]
struct Node {
    start: u64,
    len: u64,
    prev: u32,
    next: u32,
}

/// Free units of a pool of `total` units, of which `[0, committed)` may be handed out.
#[derive(Debug)]
pub struct Heap {
    nodes: Vec<Node>,
    spare: Vec<u32>,
    /// First unit of each free run -> its node.
    by_start: HashMap<u64, u32>,
    /// The unit past each free run -> its node.
    by_end: HashMap<u64, u32>,
    /// Per length (index = length, 1..=LISTED): the first node of the list, or NIL.
    lists: Box<[u32]>,
    /// Bit `len` set: `lists[len]` is not empty.
    nonempty: [u64; WORDS],
    /// Runs longer than `LISTED`: (length, start).
    long: BTreeSet<(u64, u64)>,
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
            nodes: Vec::new(),
            spare: Vec::new(),
            by_start: HashMap::new(),
            by_end: HashMap::new(),
            lists: vec![NIL; LISTED + 1].into_boxed_slice(),
            nonempty: [0; WORDS],
            long: BTreeSet::new(),
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

    /// Free units already committed (what a scattered value can take without growing).
    pub fn free_committed(&self) -> u64 {
        self.free
    }

    /// Discontiguous free regions, the uncommitted tail counted with the run before it.
    pub fn entries(&self) -> u64 {
        let runs = self.by_start.len() as u64;
        let tail_alone = self.committed < self.total && !self.by_end.contains_key(&self.committed);
        runs + u64::from(tail_alone)
    }

    /// Where the free run starting at unit `at` ends (`at` itself where none starts there).
    pub fn free_end(&self, at: u64) -> u64 {
        self.by_start.get(&at).map_or(at, |&i| at + self.nodes[i as usize].len)
    }

    /// The length of the free run ending at unit `at` (0 where none does).
    pub fn free_before(&self, at: u64) -> u64 {
        self.by_end.get(&at).map_or(0, |&i| self.nodes[i as usize].len)
    }

    /// The free run that `run` (in use) would be part of once freed: its length with the free
    /// runs on either side. Touches nothing.
    #[cfg(test)]
    fn freed_len(&self, run: Run) -> u64 {
        self.free_before(run.start) + self.free_end(run.start + run.len) - run.start
    }

    /// Takes `n` units, in as few runs as it can: one run of the best fit, else the largest runs
    /// until `n` is covered. `commit(first, count)` allocates the backing of units before they are
    /// first handed out; where it fails the heap keeps what it has. `None`: fewer than `n` units
    /// are free (the caller evicts and retries) or `n` is 0 (nothing to take). (The cache calls
    /// `alloc_whole` and `scatter` itself, evicting between them.)
    #[cfg(test)]
    fn alloc(&mut self, n: u64, commit: &mut dyn FnMut(u64, u64) -> bool) -> Option<Runs> {
        if n == 0 {
            return Some(Runs::Many(Box::new([])));
        }
        if let Some(run) = self.alloc_whole(n, commit) {
            return Some(Runs::One(run));
        }
        self.scatter(n)
    }

    /// One run of exactly `n` units (`n` > 0) from the best-fitting free run, committing more of
    /// the pool where no committed run fits; `None` if no run holds `n` units.
    pub fn alloc_whole(&mut self, n: u64, commit: &mut dyn FnMut(u64, u64) -> bool) -> Option<Run> {
        debug_assert!(n > 0);
        if let Some(run) = self.best_fit(n) {
            return Some(run);
        }
        if self.grow(n, commit) {
            return self.best_fit(n);
        }
        None
    }

    /// `n` units (`n` > 0) over the largest free runs; `None` if fewer than `n` are free.
    pub fn scatter(&mut self, n: u64) -> Option<Runs> {
        if self.free < n {
            return None;
        }
        let mut runs = Vec::new();
        let mut left = n;
        while left > 0 {
            let i = self.largest().expect("free units add up to n");
            let Node { start, len, .. } = self.nodes[i as usize];
            let take = len.min(left);
            self.remove(i);
            if take < len {
                self.insert(start + take, len - take);
            }
            runs.push(Run { start, len: take });
            left -= take;
        }
        self.free -= n;
        Some(if runs.len() == 1 { Runs::One(runs[0]) } else { Runs::Many(runs.into_boxed_slice()) })
    }

    fn best_fit(&mut self, n: u64) -> Option<Run> {
        let i = self.fitting(n)?;
        let Node { start, len, .. } = self.nodes[i as usize];
        self.remove(i);
        if len > n {
            self.insert(start + n, len - n);
        }
        self.free -= n;
        Some(Run { start, len: n })
    }

    /// The node of the shortest free run of at least `n` units.
    fn fitting(&self, n: u64) -> Option<u32> {
        if n <= LISTED as u64 {
            let n = n as usize;
            let (mut w, bit) = (n / 64, n % 64);
            let mut word = self.nonempty[w] & (u64::MAX << bit);
            loop {
                if word != 0 {
                    let len = w * 64 + word.trailing_zeros() as usize;
                    return Some(self.lists[len]);
                }
                w += 1;
                if w == WORDS {
                    break;
                }
                word = self.nonempty[w];
            }
        }
        let &(_, start) = self.long.range((n, 0)..).next()?;
        Some(self.by_start[&start])
    }

    /// The node of a longest free run.
    fn largest(&self) -> Option<u32> {
        if let Some(&(_, start)) = self.long.last() {
            return Some(self.by_start[&start]);
        }
        let w = self.nonempty.iter().rposition(|&w| w != 0)?;
        let len = w * 64 + 63 - self.nonempty[w].leading_zeros() as usize;
        Some(self.lists[len])
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
        debug_assert!(len > 0 && start + len <= self.committed, "units {start}+{len} outside the heap");
        debug_assert!(!self.by_start.contains_key(&start), "double free of units {start}..{}", start + len);
        self.free += len;
        if let Some(&i) = self.by_end.get(&start) {
            let before = self.nodes[i as usize];
            self.remove(i);
            start = before.start;
            len += before.len;
        }
        if let Some(&i) = self.by_start.get(&(start + len)) {
            len += self.nodes[i as usize].len;
            self.remove(i);
        }
        self.insert(start, len);
    }

    fn insert(&mut self, start: u64, len: u64) {
        let node = Node { start, len, prev: NIL, next: NIL };
        let i = match self.spare.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        self.by_start.insert(start, i);
        self.by_end.insert(start + len, i);
        if len > LISTED as u64 {
            self.long.insert((len, start));
            return;
        }
        let l = len as usize;
        let head = self.lists[l];
        self.nodes[i as usize].next = head;
        if head != NIL {
            self.nodes[head as usize].prev = i;
        }
        self.lists[l] = i;
        self.nonempty[l / 64] |= 1 << (l % 64);
    }

    fn remove(&mut self, i: u32) {
        let Node { start, len, prev, next } = self.nodes[i as usize];
        self.by_start.remove(&start);
        self.by_end.remove(&(start + len));
        self.spare.push(i);
        if len > LISTED as u64 {
            self.long.remove(&(len, start));
            return;
        }
        let l = len as usize;
        match prev {
            NIL => {
                self.lists[l] = next;
                if next == NIL {
                    self.nonempty[l / 64] &= !(1 << (l % 64));
                }
            }
            p => self.nodes[p as usize].next = next,
        }
        if next != NIL {
            self.nodes[next as usize].prev = prev;
        }
    }

    /// Every free run, by start (for tests).
    #[cfg(test)]
    fn runs(&self) -> Vec<Run> {
        let mut v: Vec<Run> = self
            .by_start
            .values()
            .map(|&i| Run { start: self.nodes[i as usize].start, len: self.nodes[i as usize].len })
            .collect();
        v.sort_by_key(|r| r.start);
        v
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

    #[test]
    fn freed_len_counts_free_neighbours() {
        let mut h = Heap::new(30, 30);
        let a = h.alloc(5, &mut all).unwrap();
        let b = h.alloc(5, &mut all).unwrap();
        let c = h.alloc(5, &mut all).unwrap();
        let b = b.as_slice()[0];
        assert_eq!(h.freed_len(b), 5);
        h.free(a.as_slice());
        assert_eq!(h.freed_len(b), 10);
        h.free(c.as_slice()); // coalesces with the tail [15, 30)
        assert_eq!(h.freed_len(b), 30);
    }

    /// The heap against a model (a flag per unit), over random allocations and frees of random
    /// lengths, some longer than the listed lengths: every answer is what the model allows
    /// (best fit where a run holds the value whole, else the largest runs), and the free runs
    /// are always exactly the model's maximal free runs.
    #[test]
    fn matches_a_model() {
        for seed in 1..=40u64 {
            let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut rnd = move |m: u64| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x % m
            };
            let total = 2000 + rnd(20_000);
            let step = 1 + rnd(3000);
            let maxlen = if seed % 4 == 0 { 3 * LISTED as u64 } else { 300 };
            let mut h = Heap::new(total, step);
            let mut free = vec![false; total as usize]; // committed and free
            let mut committed = 0u64;
            let mut live: Vec<Vec<Run>> = Vec::new();
            for _ in 0..3000 {
                if live.is_empty() || rnd(100) < 55 {
                    let n = 1 + rnd(maxlen);
                    // What the model allows.
                    let model_runs = maximal_runs(&free);
                    let best = model_runs.iter().filter(|r| r.len >= n).map(|r| r.len).min();
                    let free_now: u64 = model_runs.iter().map(|r| r.len).sum();
                    let tail_room = total - committed;
                    let last_free =
                        model_runs.last().filter(|r| r.start + r.len == committed).map_or(0, |r| r.len);
                    let mut grew = None;
                    let got = h.alloc(n, &mut |s, c| {
                        grew = Some((s, c));
                        true
                    });
                    if let Some((s, c)) = grew {
                        assert_eq!(s, committed, "seed {seed}: grows at the committed end");
                        assert!(best.is_none(), "seed {seed}: grew while a committed run fit");
                        assert!(c % step == 0 || s + c == total);
                        free[s as usize..(s + c) as usize].fill(true);
                        committed = s + c;
                    }
                    let Some(runs) = got else {
                        assert!(best.is_none() && free_now + tail_room < n, "seed {seed}: refused {n}");
                        continue;
                    };
                    let runs = runs.as_slice().to_vec();
                    assert_eq!(runs.iter().map(|r| r.len).sum::<u64>(), n);
                    if let Some(b) = best {
                        assert_eq!(runs.len(), 1, "seed {seed}: a run of {b} held {n}");
                        let r = runs[0];
                        let around =
                            model_runs.iter().find(|m| m.start <= r.start && r.start < m.start + m.len);
                        assert_eq!(around.map(|m| m.len), Some(b), "seed {seed}: not the best fit");
                    } else if grew.is_none() || tail_room + last_free < n {
                        // Scattered: at least as long as anything left free.
                        assert!(free_now + tail_room >= n);
                    }
                    for r in &runs {
                        for u in r.start..r.start + r.len {
                            assert!(free[u as usize], "seed {seed}: unit {u} handed out twice");
                            free[u as usize] = false;
                        }
                    }
                    live.push(runs);
                } else {
                    let runs = live.swap_remove(rnd(live.len() as u64) as usize);
                    for r in &runs {
                        free[r.start as usize..(r.start + r.len) as usize].fill(true);
                    }
                    let want: u64 = runs.iter().map(|r| h.freed_len(*r)).max().unwrap_or(0);
                    h.free(&runs);
                    if runs.len() == 1 {
                        let r = runs[0];
                        let m = maximal_runs(&free);
                        let around =
                            m.iter().find(|m| m.start <= r.start && r.start < m.start + m.len).unwrap();
                        assert_eq!(around.len, want, "seed {seed}: freed_len");
                    }
                }
                let model_runs = maximal_runs(&free[..committed as usize]);
                assert_eq!(h.runs(), model_runs, "seed {seed}");
                let free_units: u64 = model_runs.iter().map(|r| r.len).sum();
                assert_eq!(h.used(), committed - free_units);
                assert_eq!(h.free_committed(), free_units);
                let tail_alone =
                    committed < total && model_runs.last().is_none_or(|r| r.start + r.len != committed);
                assert_eq!(h.entries(), model_runs.len() as u64 + u64::from(tail_alone));
            }
            for runs in live.drain(..) {
                h.free(&runs);
            }
            assert_eq!(h.used(), 0);
            assert_eq!(h.runs().len(), usize::from(committed > 0));
        }
    }

    fn maximal_runs(free: &[bool]) -> Vec<Run> {
        let mut v = Vec::new();
        let mut i = 0;
        while i < free.len() {
            if free[i] {
                let s = i;
                while i < free.len() && free[i] {
                    i += 1;
                }
                v.push(Run { start: s as u64, len: (i - s) as u64 });
            } else {
                i += 1;
            }
        }
        v
    }
}
