//! Markov-chain attribution: removal effects from the absorbing chain of channel histories,
//! solved exactly (no simulation).
//!
//! States are (start), the order-k histories of channels, (conversion) and (null). Removing
//! channel c sends every transition into a state whose history holds c to (null); since a
//! history holds c exactly when c was one of the last k channels emitted, P_c is the
//! probability of converting without ever passing through c. Each P is an absorption
//! probability, the solution of (I - Q) x = b over the transient states. The states are
//! split into strongly connected components and solved successors first: single states by
//! substitution, components of up to `DENSE_MAX` states by Gaussian elimination, larger
//! ones by Gauss-Seidel with an error bound (see `solve_large`). A removal re-solves only
//! the states from which c can be reached; every other state keeps its value.
//!
//! The solver is our own: ndarray has no solver without LAPACK (ndarray-linalg links a
//! system BLAS), and a dense solve of every removal is what the component order avoids
//! (bench/run.py's Markov cases time it against channelattribution's simulation).

use rustc_hash::FxHashMap;

use crate::core::error::{Error, ErrorKind, Result};
use crate::core::journey::ChannelId;

pub const MAX_ORDER: i32 = 8;
/// Distinct states (histories) a chain may have; more raise 54000.
pub const MAX_STATES: usize = 10_000_000;
/// Components up to this size are solved by elimination, larger ones iteratively.
const DENSE_MAX: usize = 300;
/// Gauss-Seidel stops once its error bound is below this (absolute; probabilities are <= 1).
const ITERATIVE_TOLERANCE: f64 = 1e-14;

const START: u32 = 0;
const CONVERSION: u32 = 1;
const NULL: u32 = 2;
const FIRST_HISTORY: u32 = 3;
/// The fixed states' names in markov_transition_matrix.
const START_NAME: &str = "(start)";
const CONVERSION_NAME: &str = "(conversion)";
const NULL_NAME: &str = "(null)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkovOptions {
    pub order: usize,
    /// Keep consecutive repeats of a channel as steps (a state may lead to itself).
    pub self_loops: bool,
}

impl MarkovOptions {
    pub fn new(order: i32, self_loops: bool) -> Result<Self> {
        if !(1..=MAX_ORDER).contains(&order) {
            return Err(Error::invalid_parameter(format!(
                "markov_order must be between 1 and {MAX_ORDER}, not {order}"
            )));
        }
        Ok(MarkovOptions { order: order as usize, self_loops })
    }
}

/// Weighted transition counts, path by path.
pub struct ChainBuilder {
    options: MarkovOptions,
    state_limit: usize,
    histories: FxHashMap<Box<[ChannelId]>, u32>,
    /// In creation order: state FIRST_HISTORY + i.
    history_list: Vec<Box<[ChannelId]>>,
    edges: FxHashMap<(u32, u32), f64>,
    steps: Vec<ChannelId>,
}

impl ChainBuilder {
    pub fn new(options: MarkovOptions) -> Self {
        Self::with_state_limit(options, MAX_STATES)
    }

    fn with_state_limit(options: MarkovOptions, state_limit: usize) -> Self {
        ChainBuilder {
            options,
            state_limit,
            histories: FxHashMap::default(),
            history_list: Vec::new(),
            edges: FxHashMap::default(),
            steps: Vec::new(),
        }
    }

    /// One path: its transitions weigh `conversions + nulls`; its last state leads to
    /// (conversion) with `conversions` and to (null) with `nulls`. Empty paths and paths of
    /// weight 0 add nothing.
    pub fn add_path(
        &mut self,
        channels: impl IntoIterator<Item = ChannelId>,
        conversions: f64,
        nulls: f64,
    ) -> Result<()> {
        let weight = conversions + nulls;
        self.steps.clear();
        for channel in channels {
            if self.options.self_loops || self.steps.last() != Some(&channel) {
                self.steps.push(channel);
            }
        }
        if self.steps.is_empty() || weight <= 0.0 {
            return Ok(());
        }
        let mut from = START;
        for end in 1..=self.steps.len() {
            let history = &self.steps[end.saturating_sub(self.options.order)..end];
            let to = match self.histories.get(history) {
                Some(&id) => id,
                None => {
                    if self.history_list.len() >= self.state_limit {
                        return Err(Error::new(
                            ErrorKind::ProgramLimit,
                            format!("the Markov chain would have more than {} states", self.state_limit),
                        )
                        .with_hint("lower markov_order, or map rare channels together with max_channels"));
                    }
                    let id = FIRST_HISTORY + self.history_list.len() as u32;
                    self.histories.insert(history.into(), id);
                    self.history_list.push(history.into());
                    id
                }
            };
            *self.edges.entry((from, to)).or_insert(0.0) += weight;
            from = to;
        }
        if conversions > 0.0 {
            *self.edges.entry((from, CONVERSION)).or_insert(0.0) += conversions;
        }
        if nulls > 0.0 {
            *self.edges.entry((from, NULL)).or_insert(0.0) += nulls;
        }
        Ok(())
    }

    pub fn build(self) -> Chain {
        let state_count = FIRST_HISTORY as usize + self.history_list.len();
        let mut edges: Vec<((u32, u32), f64)> = self.edges.into_iter().collect();
        edges.sort_unstable_by_key(|e| e.0);
        let mut out_start = vec![0usize; state_count + 1];
        for ((from, _), _) in &edges {
            out_start[*from as usize + 1] += 1;
        }
        for s in 0..state_count {
            out_start[s + 1] += out_start[s];
        }
        let mut out_total = vec![0.0; state_count];
        for ((from, _), weight) in &edges {
            out_total[*from as usize] += weight;
        }
        let (to, weight) = edges.into_iter().map(|((_, to), w)| (to, w)).unzip();
        Chain { histories: self.history_list, out_start, to, weight, out_total }
    }
}

/// The chain: outgoing transitions of each state in compressed rows, sorted by target.
pub struct Chain {
    histories: Vec<Box<[ChannelId]>>,
    out_start: Vec<usize>,
    to: Vec<u32>,
    weight: Vec<f64>,
    out_total: Vec<f64>,
}

/// P (the probability of converting from (start)) and each channel's removal effect
/// (P - P_c) / P; None when P is 0 or the channel never occurs in the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct RemovalEffects {
    pub conversion_probability: f64,
    pub effects: Vec<Option<f64>>,
}

/// One transition for markov_transition_matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub from: String,
    pub to: String,
    pub probability: f64,
    pub weight: f64,
}

impl Chain {
    fn state_count(&self) -> usize {
        self.out_total.len()
    }

    fn is_transient(state: u32) -> bool {
        state != CONVERSION && state != NULL
    }

    fn history(&self, state: u32) -> &[ChannelId] {
        &self.histories[(state - FIRST_HISTORY) as usize]
    }

    fn transitions(&self, state: u32) -> impl Iterator<Item = (u32, f64)> + '_ {
        let s = state as usize;
        let total = self.out_total[s];
        (self.out_start[s]..self.out_start[s + 1]).map(move |e| (self.to[e], self.weight[e] / total))
    }

    /// State names: '(start)', '(conversion)', '(null)', and histories as 'a > b'.
    pub fn state_name(&self, state: u32, channel_names: &[String]) -> String {
        match state {
            START => START_NAME.into(),
            CONVERSION => CONVERSION_NAME.into(),
            NULL => NULL_NAME.into(),
            _ => self
                .history(state)
                .iter()
                .map(|&c| channel_names[c as usize].as_str())
                .collect::<Vec<_>>()
                .join(" > "),
        }
    }

    /// Every transition, by source state in creation order (start first), then target. A
    /// channel named like a fixed state, or with the '>' that joins histories, would make two
    /// states read the same: 22023.
    pub fn transition_rows(&self, channel_names: &[String]) -> Result<Vec<Transition>> {
        let fixed = [START_NAME, CONVERSION_NAME, NULL_NAME];
        if let Some(name) = channel_names.iter().find(|c| fixed.contains(&c.as_str()) || c.contains('>')) {
            return Err(Error::invalid_parameter(format!(
                "paths: the channel '{name}' cannot be named in a transition matrix: '{START_NAME}', \
                 '{CONVERSION_NAME}' and '{NULL_NAME}' name its fixed states and '>' joins channel histories"
            ))
            .with_hint("rename the channel in the query, e.g. with replace()"));
        }
        let mut rows = Vec::with_capacity(self.to.len());
        for from in (0..self.state_count() as u32).filter(|&s| Chain::is_transient(s)) {
            let s = from as usize;
            for e in self.out_start[s]..self.out_start[s + 1] {
                rows.push(Transition {
                    from: self.state_name(from, channel_names),
                    to: self.state_name(self.to[e], channel_names),
                    probability: self.weight[e] / self.out_total[s],
                    weight: self.weight[e],
                });
            }
        }
        Ok(rows)
    }

    /// P and every channel's removal effect. `interrupt` is called between steps of work.
    pub fn removal_effects(&self, channel_count: usize, interrupt: &mut dyn FnMut()) -> RemovalEffects {
        let none = || RemovalEffects { conversion_probability: 0.0, effects: vec![None; channel_count] };
        if self.state_count() == FIRST_HISTORY as usize {
            return none();
        }
        let solver = Solver::new(self);
        let mut x = vec![0.0; self.state_count()];
        x[CONVERSION as usize] = 1.0;
        let mut every_state: Vec<u32> =
            (0..self.state_count() as u32).filter(|&s| Chain::is_transient(s)).collect();
        solver.sort_for_solving(&mut every_state);
        solver.solve(&mut x, &every_state, &[], interrupt);
        let p = x[START as usize];
        if p <= 0.0 {
            return none();
        }

        // The states holding each channel, and who leads to whom, for the re-solves.
        let mut holding: Vec<Vec<u32>> = vec![Vec::new(); channel_count];
        for state in FIRST_HISTORY..self.state_count() as u32 {
            let mut history = self.history(state).to_vec();
            history.sort_unstable();
            history.dedup();
            for c in history {
                holding[c as usize].push(state);
            }
        }
        let predecessors = solver.predecessors();
        let mut removed = vec![false; self.state_count()];
        let mut seen = vec![false; self.state_count()];
        let mut upstream = Vec::new();
        let mut xc = x.clone();
        let effects = holding
            .iter()
            .map(|states| {
                if states.is_empty() {
                    return None;
                }
                interrupt();
                // upstream: the states that can reach a removed one, found backwards
                upstream.clear();
                for &s in states {
                    removed[s as usize] = true;
                    seen[s as usize] = true;
                    xc[s as usize] = 0.0;
                }
                let mut frontier: Vec<u32> = states.clone();
                while let Some(s) = frontier.pop() {
                    for &p in predecessors.of(s) {
                        if !seen[p as usize] {
                            seen[p as usize] = true;
                            upstream.push(p);
                            frontier.push(p);
                        }
                    }
                }
                solver.sort_for_solving(&mut upstream);
                solver.solve(&mut xc, &upstream, &removed, interrupt);
                let p_c = xc[START as usize];
                // restore for the next channel
                for &s in states.iter().chain(&upstream) {
                    removed[s as usize] = false;
                    seen[s as usize] = false;
                    xc[s as usize] = x[s as usize];
                }
                // removing states can only lower P; clamp rounding below 0
                Some(((p - p_c) / p).max(0.0))
            })
            .collect();
        RemovalEffects { conversion_probability: p, effects }
    }
}

/// The components of the transient states, numbered successors first.
struct Solver<'a> {
    chain: &'a Chain,
    component_of: Vec<u32>,
    /// Per component solved iteratively, computed when first needed: an upper bound of
    /// ||(I - Q_component)^-1||_inf, the most expected visits inside it.
    visit_bound: std::cell::RefCell<FxHashMap<u32, f64>>,
}

struct Predecessors {
    start: Vec<usize>,
    from: Vec<u32>,
}

impl Predecessors {
    fn of(&self, state: u32) -> &[u32] {
        &self.from[self.start[state as usize]..self.start[state as usize + 1]]
    }
}

impl<'a> Solver<'a> {
    fn new(chain: &'a Chain) -> Self {
        Solver { chain, component_of: strongly_connected(chain), visit_bound: Default::default() }
    }

    /// Components in solving order; within one, creation order (see `solve_large`).
    fn sort_for_solving(&self, states: &mut [u32]) {
        states.sort_unstable_by_key(|&s| (self.component_of[s as usize], s));
    }

    fn predecessors(&self) -> Predecessors {
        let chain = self.chain;
        let n = chain.state_count();
        let mut start = vec![0usize; n + 1];
        for &to in &chain.to {
            start[to as usize + 1] += 1;
        }
        for s in 0..n {
            start[s + 1] += start[s];
        }
        let mut next = start.clone();
        let mut from = vec![0u32; chain.to.len()];
        for s in 0..n {
            for e in chain.out_start[s]..chain.out_start[s + 1] {
                let slot = &mut next[chain.to[e] as usize];
                from[*slot] = s as u32;
                *slot += 1;
            }
        }
        Predecessors { start, from }
    }

    /// Solves x on `unknown` (sorted by component, successors first); every other state's
    /// x is taken as known, removed states as 0.
    fn solve(&self, x: &mut [f64], unknown: &[u32], removed: &[bool], interrupt: &mut dyn FnMut()) {
        let is_removed = |s: u32| removed.get(s as usize).copied().unwrap_or(false);
        for group in unknown.chunk_by(|a, b| self.component_of[*a as usize] == self.component_of[*b as usize])
        {
            let group: Vec<u32> = group.iter().copied().filter(|&s| !is_removed(s)).collect();
            match group.len() {
                0 => {}
                // every other state's value is known: one update is exact
                1 => self.update(x, group[0], &is_removed),
                n if n <= DENSE_MAX => self.solve_dense(x, &group, &is_removed),
                _ => {
                    let component = self.component_of[group[0] as usize];
                    let bound = self.visit_bound(component, interrupt);
                    self.solve_large(x, &group, &is_removed, bound, interrupt);
                }
            }
        }
    }

    /// x_s from its equation, given every other state's current value (a self-loop moves
    /// to the left-hand side).
    fn update(&self, x: &mut [f64], s: u32, is_removed: &dyn Fn(u32) -> bool) {
        let (mut diagonal, mut rhs) = (0.0, 0.0);
        for (t, p) in self.chain.transitions(s) {
            if t == s {
                diagonal += p;
            } else if !is_removed(t) {
                rhs += p * x[t as usize];
            }
        }
        x[s as usize] = rhs / (1.0 - diagonal);
    }

    /// Gaussian elimination with partial pivoting on (I - Q_gg) x_g = b_g + Q_g,rest x_rest.
    fn solve_dense(&self, x: &mut [f64], group: &[u32], is_removed: &dyn Fn(u32) -> bool) {
        let n = group.len();
        let local: FxHashMap<u32, usize> = group.iter().enumerate().map(|(i, &s)| (s, i)).collect();
        let mut a = vec![0.0; n * n];
        let mut b = vec![0.0; n];
        for (i, &s) in group.iter().enumerate() {
            a[i * n + i] = 1.0;
            for (t, p) in self.chain.transitions(s) {
                match local.get(&t) {
                    Some(&j) => a[i * n + j] -= p,
                    None if !is_removed(t) => b[i] += p * x[t as usize],
                    None => {}
                }
            }
        }
        for col in 0..n {
            let pivot =
                (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs())).unwrap();
            if pivot != col {
                for k in 0..n {
                    a.swap(col * n + k, pivot * n + k);
                }
                b.swap(col, pivot);
            }
            let diagonal = a[col * n + col];
            for row in col + 1..n {
                let factor = a[row * n + col] / diagonal;
                if factor != 0.0 {
                    for k in col..n {
                        a[row * n + k] -= factor * a[col * n + k];
                    }
                    b[row] -= factor * b[col];
                }
            }
        }
        for row in (0..n).rev() {
            let tail: f64 = (row + 1..n).map(|k| a[row * n + k] * b[k]).sum();
            b[row] = (b[row] - tail) / a[row * n + row];
        }
        for (&s, value) in group.iter().zip(b) {
            x[s as usize] = value;
        }
    }

    /// Gauss-Seidel sweeps until ||residual||_inf x `bound` <= ITERATIVE_TOLERANCE, where
    /// `bound` >= ||(I - Q_gg)^-1||_inf, so the error is below the tolerance; or until the
    /// residual stops falling (rounding).
    fn solve_large(
        &self,
        x: &mut [f64],
        group: &[u32],
        is_removed: &dyn Fn(u32) -> bool,
        bound: f64,
        interrupt: &mut dyn FnMut(),
    ) {
        let mut best_residual = f64::INFINITY;
        let mut stalls = 0;
        loop {
            interrupt();
            // sweep in reverse creation order: later (deeper) states first, so values
            // flow back towards (start) within one sweep
            for &s in group.iter().rev() {
                self.update(x, s, is_removed);
            }
            let residual = group
                .iter()
                .map(|&s| {
                    let flow: f64 = self
                        .chain
                        .transitions(s)
                        .filter(|&(t, _)| !is_removed(t))
                        .map(|(t, p)| p * x[t as usize])
                        .sum();
                    (flow - x[s as usize]).abs()
                })
                .fold(0.0, f64::max);
            if residual * bound <= ITERATIVE_TOLERANCE {
                return;
            }
            if residual < best_residual * 0.999 {
                best_residual = residual;
                stalls = 0;
            } else {
                stalls += 1;
                if stalls >= 3 {
                    return;
                }
            }
        }
    }

    /// The most expected visits inside the component before leaving it, starting anywhere
    /// in it: the solution of (I - Q) v = 1 on the component, iterated from 0 (so from
    /// below) until it changes by less than 1e-9 relative, then doubled for margin. A bound
    /// for every subset of the component too, since removing states only shortens visits.
    fn visit_bound(&self, component: u32, interrupt: &mut dyn FnMut()) -> f64 {
        if let Some(&bound) = self.visit_bound.borrow().get(&component) {
            return bound;
        }
        let members: Vec<u32> = (0..self.chain.state_count() as u32)
            .filter(|&s| Chain::is_transient(s) && self.component_of[s as usize] == component)
            .collect();
        let mut visits: FxHashMap<u32, f64> = members.iter().map(|&s| (s, 0.0)).collect();
        let bound = loop {
            interrupt();
            let mut change: f64 = 0.0;
            for &s in members.iter().rev() {
                let mut value = 1.0;
                for (t, p) in self.chain.transitions(s) {
                    if let Some(v) = visits.get(&t) {
                        value += p * v;
                    }
                }
                let old = visits.insert(s, value).unwrap_or(0.0);
                change = change.max((value - old).abs() / value);
            }
            if change < 1e-9 {
                break 2.0 * visits.values().fold(0.0, |a: f64, &b| a.max(b));
            }
        };
        self.visit_bound.borrow_mut().insert(component, bound);
        bound
    }
}

/// Strongly connected components of the transient states (Tarjan, iterative), numbered in
/// completion order: a component gets its number after every component it leads to.
fn strongly_connected(chain: &Chain) -> Vec<u32> {
    let n = chain.state_count();
    let mut t = Tarjan {
        index: vec![UNSEEN; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        calls: Vec::new(),
        counter: 0,
    };
    let mut component = vec![UNSEEN; n];
    let mut components = 0u32;
    for root in (0..n as u32).filter(|&s| Chain::is_transient(s)) {
        if t.index[root as usize] != UNSEEN {
            continue;
        }
        t.open(root, chain);
        while let Some(&mut (v, ref mut edge)) = t.calls.last_mut() {
            if *edge < chain.out_start[v as usize + 1] {
                let w = chain.to[*edge];
                *edge += 1;
                if !Chain::is_transient(w) {
                    continue;
                }
                if t.index[w as usize] == UNSEEN {
                    t.open(w, chain);
                } else if t.on_stack[w as usize] {
                    t.low[v as usize] = t.low[v as usize].min(t.index[w as usize]);
                }
            } else {
                t.calls.pop();
                if let Some(&(u, _)) = t.calls.last() {
                    t.low[u as usize] = t.low[u as usize].min(t.low[v as usize]);
                }
                if t.low[v as usize] == t.index[v as usize] {
                    loop {
                        let w = t.stack.pop().expect("v is on the stack");
                        t.on_stack[w as usize] = false;
                        component[w as usize] = components;
                        if w == v {
                            break;
                        }
                    }
                    components += 1;
                }
            }
        }
    }
    component
}

const UNSEEN: u32 = u32::MAX;

struct Tarjan {
    index: Vec<u32>,
    low: Vec<u32>,
    on_stack: Vec<bool>,
    stack: Vec<u32>,
    /// The depth-first search's own stack: (state, next outgoing edge to look at).
    calls: Vec<(u32, usize)>,
    counter: u32,
}

impl Tarjan {
    fn open(&mut self, v: u32, chain: &Chain) {
        self.index[v as usize] = self.counter;
        self.low[v as usize] = self.counter;
        self.counter += 1;
        self.stack.push(v);
        self.on_stack[v as usize] = true;
        self.calls.push((v, chain.out_start[v as usize]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn effects(
        paths: &[(&[ChannelId], f64, f64)],
        order: i32,
        self_loops: bool,
        channels: usize,
    ) -> RemovalEffects {
        let mut builder = ChainBuilder::new(MarkovOptions::new(order, self_loops).unwrap());
        for (path, conversions, nulls) in paths {
            builder.add_path(path.iter().copied(), *conversions, *nulls).unwrap();
        }
        builder.build().removal_effects(channels, &mut || {})
    }

    fn assert_close(actual: &RemovalEffects, p: f64, expected: &[Option<f64>]) {
        assert!((actual.conversion_probability - p).abs() < 1e-12, "{actual:?}");
        assert_eq!(actual.effects.len(), expected.len());
        for (a, e) in actual.effects.iter().zip(expected) {
            match (a, e) {
                (Some(a), Some(e)) => assert!((a - e).abs() < 1e-12, "{actual:?} vs {expected:?}"),
                _ => assert_eq!(a, e, "{actual:?} vs {expected:?}"),
            }
        }
    }

    const A: ChannelId = 0;
    const B: ChannelId = 1;
    const C: ChannelId = 2;

    #[test]
    fn three_channels_by_hand() {
        // Paths A>B (1 conversion), A>C (1 null), B (1 conversion), C (1 null).
        // start -> A 2/4, B 1/4, C 1/4; A -> B 1/2, C 1/2; B -> conversion 1; C -> null 1.
        // x_B = 1, x_C = 0, x_A = 1/2, P = 1/2 x 1/2 + 1/4 = 1/2.
        // Without A: P = 1/4, RE = 1/2. Without B: x_A = 0, P = 0, RE = 1. Without C: P = 1/2, RE = 0.
        let paths: &[(&[ChannelId], f64, f64)] =
            &[(&[A, B], 1.0, 0.0), (&[A, C], 0.0, 1.0), (&[B], 1.0, 0.0), (&[C], 0.0, 1.0)];
        assert_close(&effects(paths, 1, false, 3), 0.5, &[Some(0.5), Some(1.0), Some(0.0)]);
    }

    #[test]
    fn a_cycle_by_hand() {
        // A>B>A (1 conversion), B (1 null): start -> A 1/2, B 1/2; A -> B 1/2, conversion 1/2;
        // B -> A 1/2, null 1/2. x_A = x_B / 2 + 1/2 and x_B = x_A / 2 give x_A = 2/3, x_B = 1/3,
        // P = 1/2. Without A: P = 0, RE = 1. Without B: x_A = 1/2, P = 1/4, RE = 1/2.
        // Channel C (id 2) never occurs: None.
        let paths: &[(&[ChannelId], f64, f64)] = &[(&[A, B, A], 1.0, 0.0), (&[B], 0.0, 1.0)];
        assert_close(&effects(paths, 1, false, 3), 0.5, &[Some(1.0), Some(0.5), None]);
    }

    #[test]
    fn order_two_tells_which_channel_came_before() {
        // A>C converts, B>C does not. Order 1 shares the state C (conversion 1/2): every
        // channel's removal loses half or all of P = 1/2: RE A 1/2, B 1/2, C 1.
        // Order 2 has states (A,C) -> conversion and (B,C) -> null: RE A 1, B 0, C 1.
        let paths: &[(&[ChannelId], f64, f64)] = &[(&[A, C], 1.0, 0.0), (&[B, C], 0.0, 1.0)];
        assert_close(&effects(paths, 1, false, 3), 0.5, &[Some(0.5), Some(0.5), Some(1.0)]);
        assert_close(&effects(paths, 2, false, 3), 0.5, &[Some(1.0), Some(0.0), Some(1.0)]);
    }

    #[test]
    fn repeats_collapse_unless_self_loops() {
        // A>A converts, A does not. Collapsed: both are start -> A -> end, P = 1/2.
        // With self loops: A -> A 1/3, conversion 1/3, null 1/3: x_A = x_A / 3 + 1/3, x_A = 1/2.
        let paths: &[(&[ChannelId], f64, f64)] = &[(&[A, A], 1.0, 0.0), (&[A], 0.0, 1.0)];
        assert_close(&effects(paths, 1, false, 1), 0.5, &[Some(1.0)]);
        assert_close(&effects(paths, 1, true, 1), 0.5, &[Some(1.0)]);
        let mut builder = ChainBuilder::new(MarkovOptions::new(1, true).unwrap());
        builder.add_path([A, A], 1.0, 0.0).unwrap();
        builder.add_path([A], 0.0, 1.0).unwrap();
        let rows = builder.build().transition_rows(&["a".to_string()]).unwrap();
        let self_loop = rows.iter().find(|t| t.from == "a" && t.to == "a").unwrap();
        assert!((self_loop.probability - 1.0 / 3.0).abs() < 1e-15 && self_loop.weight == 1.0);
    }

    #[test]
    fn no_conversions_give_no_effects() {
        let paths: &[(&[ChannelId], f64, f64)] = &[(&[A, B], 0.0, 2.0)];
        assert_close(&effects(paths, 1, false, 2), 0.0, &[None, None]);
        assert_close(&effects(&[], 1, false, 2), 0.0, &[None, None]);
    }

    #[test]
    fn more_states_than_the_limit_is_an_error_naming_it() {
        let mut builder = ChainBuilder::with_state_limit(MarkovOptions::new(2, false).unwrap(), 3);
        builder.add_path([A, B], 1.0, 0.0).unwrap(); // (A), (A,B)
        builder.add_path([B], 1.0, 0.0).unwrap(); // (B)
        let e = builder.add_path([C], 1.0, 0.0).unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::ProgramLimit, "the Markov chain would have more than 3 states")
        );
    }

    #[test]
    fn orders_outside_one_to_eight_are_refused() {
        assert_eq!(
            MarkovOptions::new(0, false).unwrap_err().message,
            "markov_order must be between 1 and 8, not 0"
        );
        assert!(MarkovOptions::new(9, false).is_err());
        assert!(MarkovOptions::new(8, false).is_ok());
    }

    /// Absorption probabilities by plain fixed-point iteration x <- b + Qx from 0, an
    /// independent (and slow) method, run until nothing changes by more than 1e-16.
    fn by_iteration(chain: &Chain, removed_channel: Option<ChannelId>) -> f64 {
        let removed: Vec<bool> = (0..chain.state_count() as u32)
            .map(|s| s >= FIRST_HISTORY && removed_channel.is_some_and(|c| chain.history(s).contains(&c)))
            .collect();
        let mut x = vec![0.0; chain.state_count()];
        x[CONVERSION as usize] = 1.0;
        loop {
            let mut change: f64 = 0.0;
            let old = x.clone();
            for s in
                (0..chain.state_count() as u32).filter(|&s| Chain::is_transient(s) && !removed[s as usize])
            {
                let value: f64 = chain
                    .transitions(s)
                    .filter(|&(t, _)| !removed[t as usize])
                    .map(|(t, p)| p * old[t as usize])
                    .sum();
                change = change.max((value - x[s as usize]).abs());
                x[s as usize] = value;
            }
            if change < 1e-16 {
                return x[START as usize];
            }
        }
    }

    #[test]
    fn large_components_solved_iteratively_match_plain_iteration() {
        // 3,000 pseudo-random paths over 20 channels at order 2: one component of several
        // hundred histories, above DENSE_MAX, so Gauss-Seidel with its bound solves it; order 1
        // (elimination) is checked the same way.
        let mut state = 7u64;
        let mut next = |n: u64| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        let paths: Vec<(Vec<ChannelId>, f64, f64)> = (0..3000)
            .map(|_| {
                let length = 1 + next(6) as usize;
                let path: Vec<ChannelId> = (0..length).map(|_| next(20) as ChannelId).collect();
                let converts = next(100) < 10 + 5 * path.iter().filter(|&&c| c < 3).count() as u64;
                (path, converts as u8 as f64, (!converts) as u8 as f64)
            })
            .collect();
        for order in [1, 2] {
            let mut builder = ChainBuilder::new(MarkovOptions::new(order, false).unwrap());
            for (path, conversions, nulls) in &paths {
                builder.add_path(path.iter().copied(), *conversions, *nulls).unwrap();
            }
            let chain = builder.build();
            if order == 2 {
                let components = strongly_connected(&chain);
                let mut sizes = FxHashMap::default();
                for s in (0..chain.state_count()).filter(|&s| Chain::is_transient(s as u32)) {
                    *sizes.entry(components[s]).or_insert(0usize) += 1;
                }
                assert!(sizes.values().any(|&n| n > DENSE_MAX), "{:?}", sizes.values().max());
            }
            let ours = chain.removal_effects(20, &mut || {});
            let p = by_iteration(&chain, None);
            assert!((ours.conversion_probability - p).abs() < 1e-12 * p, "order {order}");
            for c in 0..20 {
                let expected = (p - by_iteration(&chain, Some(c))) / p;
                let actual = ours.effects[c as usize].unwrap();
                assert!(
                    (actual - expected).abs() < 1e-11,
                    "order {order}, channel {c}: {actual} vs {expected}"
                );
            }
        }
    }
}
