//! Gradient boosting of log loss over histogram-binned features, trees grown leaf-wise (best
//! split first) as LightGBM and scikit-learn's HistGradientBoostingClassifier grow them.
//! Missing values (NaN) have a bin of their own; each split learns which side they go to.
//! Reference: docs/propensity.md (gbt).
//!
//! Written here rather than taken from a crate: forust-ml, the one maintained booster with
//! these options, took twice scikit-learn's time on one thread and has no hook between
//! trees for cancel or the memory budget (docs/propensity.md has the measurements).

use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::logistic::{sigmoid, softplus};
use crate::core::error::{Error, Result};
use crate::core::parallel;

/// The bin of missing values; the others are 0..max_bins.
const MISSING: u8 = 255;
pub const MAX_BINS: u32 = 255;
const BINS: usize = 256;
/// Trees scored side by side (Booster::log_odds).
const TREES_IN_STEP: usize = 8;
/// A leaf needs at least this hessian sum (scikit-learn's min_hessian_to_split), so that
/// no leaf value is a division by almost nothing.
const MIN_LEAF_HESSIAN: f64 = 1e-3;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GbtOptions {
    pub n_trees: u32,
    pub learning_rate: f64,
    pub max_depth: u32,
    pub max_leaves: u32,
    pub min_samples_leaf: u32,
    pub l2: f64,
    pub max_bins: u32,
    /// Stop when the validation rows' log loss has not fallen by more than `tolerance` in
    /// `n_iter_no_change` trees (scikit-learn's rule); None: fit every tree.
    pub early_stopping: Option<EarlyStopping>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EarlyStopping {
    pub n_iter_no_change: u32,
    pub tolerance: f64,
}

impl Default for GbtOptions {
    fn default() -> Self {
        GbtOptions {
            n_trees: 100,
            learning_rate: 0.1,
            max_depth: 6,
            max_leaves: 31,
            min_samples_leaf: 20,
            l2: 0.0,
            max_bins: MAX_BINS,
            early_stopping: None,
        }
    }
}

/// Rows of features (n x d, row-major; NaN is missing) with their labels.
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    pub features: &'a [f64],
    pub labels: &'a [bool],
    pub d: usize,
}

impl Rows<'_> {
    fn row(&self, i: usize) -> &[f64] {
        &self.features[i * self.d..(i + 1) * self.d]
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Node {
    Leaf {
        value: f64,
    },
    /// Rows with feature <= threshold go to `left`, the others to left + 1; missing values
    /// to `left` when missing_left.
    Split {
        feature: u32,
        threshold: f64,
        missing_left: bool,
        left: u32,
    },
}

/// One tree, its nodes in an array: children come after their parent, in pairs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "TreeArrays", into = "TreeArrays")]
pub struct Tree {
    nodes: Vec<Node>,
}

/// A tree as the model's jsonb holds it: one array per field, null feature for a leaf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TreeArrays {
    feature: Vec<Option<u32>>,
    threshold: Vec<f64>,
    missing_left: Vec<bool>,
    left: Vec<u32>,
    /// A leaf's contribution to the log-odds, learning rate included; 0 for a split.
    value: Vec<f64>,
}

impl From<Tree> for TreeArrays {
    fn from(tree: Tree) -> TreeArrays {
        let mut arrays = TreeArrays {
            feature: vec![],
            threshold: vec![],
            missing_left: vec![],
            left: vec![],
            value: vec![],
        };
        for node in tree.nodes {
            let (feature, threshold, missing_left, left, value) = match node {
                Node::Leaf { value } => (None, 0.0, false, 0, value),
                Node::Split { feature, threshold, missing_left, left } => {
                    (Some(feature), threshold, missing_left, left, 0.0)
                }
            };
            arrays.feature.push(feature);
            arrays.threshold.push(threshold);
            arrays.missing_left.push(missing_left);
            arrays.left.push(left);
            arrays.value.push(value);
        }
        arrays
    }
}

impl TryFrom<TreeArrays> for Tree {
    type Error = String;

    /// Refuses arrays of different lengths, children out of bounds or before their parent
    /// (so that scoring a model read from jsonb ends in a leaf), and non-finite numbers.
    fn try_from(a: TreeArrays) -> std::result::Result<Tree, String> {
        let n = a.feature.len();
        if n == 0
            || [a.threshold.len(), a.missing_left.len(), a.left.len(), a.value.len()].iter().any(|&m| m != n)
        {
            return Err("a tree's arrays must be of one length, at least 1".into());
        }
        let nodes = (0..n)
            .map(|i| match a.feature[i] {
                None if a.value[i].is_finite() => Ok(Node::Leaf { value: a.value[i] }),
                Some(feature)
                    if !a.threshold[i].is_nan()
                        && (a.left[i] as usize) > i
                        && (a.left[i] as usize) + 1 < n =>
                {
                    Ok(Node::Split {
                        feature,
                        threshold: a.threshold[i],
                        missing_left: a.missing_left[i],
                        left: a.left[i],
                    })
                }
                _ => Err(format!("a tree's node {i} is neither a finite leaf nor a split to later nodes")),
            })
            .collect::<std::result::Result<_, _>>()?;
        Ok(Tree { nodes })
    }
}

impl Tree {
    fn value(&self, row: &[f64]) -> f64 {
        let mut node = 0;
        loop {
            match self.nodes[node] {
                Node::Leaf { value } => return value,
                Node::Split { feature, threshold, missing_left, left } => {
                    let x = row[feature as usize];
                    let go_left = if x.is_nan() { missing_left } else { x <= threshold };
                    node = left as usize + usize::from(!go_left);
                }
            }
        }
    }

    fn features(&self) -> impl Iterator<Item = usize> + '_ {
        self.nodes.iter().filter_map(|node| match node {
            Node::Split { feature, .. } => Some(*feature as usize),
            Node::Leaf { .. } => None,
        })
    }

    pub fn leaves(&self) -> usize {
        self.nodes.iter().filter(|node| matches!(node, Node::Leaf { .. })).count()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Booster {
    /// The log-odds of the training rows' class balance, where every row starts.
    pub base_log_odds: f64,
    /// Per feature, the loss reduction of its splits summed over the trees.
    pub gain: Vec<f64>,
    /// Whether early stopping ended the fit before n_trees trees.
    pub stopped_early: bool,
    pub trees: Vec<Tree>,
}

impl Booster {
    /// base_log_odds plus the trees' values in tree order. TREES_IN_STEP trees descend in
    /// step, so that the processor overlaps their loads instead of waiting on one chain of
    /// nodes after another (8 scored 750,000 rows a second where one at a time scored
    /// 385,000, and 4 650,000: 100 trees of 31 leaves, 8 features).
    pub fn log_odds(&self, row: &[f64]) -> f64 {
        let mut sum = self.base_log_odds;
        let mut groups = self.trees.chunks_exact(TREES_IN_STEP);
        for group in &mut groups {
            let mut at = [0usize; TREES_IN_STEP];
            let mut descending = true;
            while descending {
                descending = false;
                for (node, tree) in at.iter_mut().zip(group) {
                    if let Node::Split { feature, threshold, missing_left, left } = tree.nodes[*node] {
                        let x = row[feature as usize];
                        let go_left = if x.is_nan() { missing_left } else { x <= threshold };
                        *node = left as usize + usize::from(!go_left);
                        descending = true;
                    }
                }
            }
            for (&node, tree) in at.iter().zip(group) {
                if let Node::Leaf { value } = tree.nodes[node] {
                    sum += value;
                }
            }
        }
        groups.remainder().iter().fold(sum, |sum, tree| sum + tree.value(row))
    }

    pub fn probability(&self, row: &[f64]) -> f64 {
        sigmoid(self.log_odds(row))
    }

    /// Whether every split reads one of `d` features and the numbers are finite.
    pub fn is_consistent(&self, d: usize) -> bool {
        self.base_log_odds.is_finite()
            && self.gain.len() == d
            && self.gain.iter().all(|g| g.is_finite())
            && self.trees.iter().all(|tree| tree.features().all(|f| f < d))
    }
}

/// A column's upper bin edges: bin b holds the values x with edges[b - 1] < x <= edges[b],
/// the last bin the values above every edge. Up to max_bins distinct values each get a bin
/// with the edge halfway to the next; more are cut at max_bins quantiles of the distinct
/// values.
fn bin_edges(mut column: Vec<f64>, max_bins: usize) -> Vec<f64> {
    column.retain(|x| !x.is_nan());
    column.sort_unstable_by(f64::total_cmp);
    column.dedup();
    if column.len() <= max_bins {
        column.windows(2).map(|w| w[0] + (w[1] - w[0]) / 2.0).collect()
    } else {
        let mut edges: Vec<f64> = (1..max_bins).map(|i| column[i * column.len() / max_bins]).collect();
        edges.dedup();
        edges
    }
}

fn bin_of(edges: &[f64], x: f64) -> u8 {
    if x.is_nan() {
        MISSING
    } else {
        edges.partition_point(|&edge| edge < x) as u8
    }
}

/// Gradient and hessian sums and the row count of a set of rows (a float8, exact below
/// 2^53, so that the three add alike).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Sums {
    g: f64,
    h: f64,
    n: f64,
}

impl Sums {
    fn add(&mut self, [g, h]: [f64; 2]) {
        self.g += g;
        self.h += h;
        self.n += 1.0;
    }
    fn plus(self, o: Sums) -> Sums {
        Sums { g: self.g + o.g, h: self.h + o.h, n: self.n + o.n }
    }
    fn minus(self, o: Sums) -> Sums {
        Sums { g: self.g - o.g, h: self.h - o.h, n: self.n - o.n }
    }
    /// G^2 / (H + l2): twice the loss a leaf of these rows removes at its Newton step.
    fn score(self, l2: f64) -> f64 {
        self.g * self.g / (self.h + l2)
    }
}

/// Per feature, the sums of each bin.
type Histogram = Vec<[Sums; BINS]>;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Split {
    gain: f64,
    feature: usize,
    bin: u8,
    missing_left: bool,
}

/// A leaf that may still be split: its rows (a range of the tree's row order), depth,
/// histogram and best split.
struct Open {
    node: usize,
    rows: Range<usize>,
    depth: u32,
    total: Sums,
    histogram: Histogram,
    split: Option<Split>,
}

/// What one tree is grown from: the binned rows (n x d, row-major), each row's gradient
/// and hessian, and the options.
struct Grower<'a> {
    bins: &'a [u8],
    d: usize,
    n_bins: &'a [usize],
    edges: &'a [Vec<f64>],
    gh: &'a [[f64; 2]],
    options: &'a GbtOptions,
}

impl Grower<'_> {
    /// The histogram of `rows`: per block of parallel::BLOCK_ROWS rows (on the machine's
    /// cores), the blocks added in order, so that the sums do not depend on the core count.
    fn histogram(&self, rows: &[u32]) -> Histogram {
        let blocks = parallel::map_blocks(rows.len(), |range| self.block_histogram(&rows[range]));
        let mut blocks = blocks.into_iter();
        let mut histogram = blocks.next().unwrap_or_else(|| vec![[Sums::default(); BINS]; self.d]);
        for block in blocks {
            for (sums, part) in histogram.iter_mut().zip(block) {
                sums.iter_mut().zip(part).for_each(|(sum, part)| *sum = sum.plus(part));
            }
        }
        histogram
    }

    fn block_histogram(&self, rows: &[u32]) -> Histogram {
        let mut histogram = vec![[Sums::default(); BINS]; self.d];
        for &row in rows {
            let row = row as usize;
            let gh = self.gh[row];
            let bins = &self.bins[row * self.d..(row + 1) * self.d];
            for (sums, &bin) in histogram.iter_mut().zip(bins) {
                sums[bin as usize].add(gh);
            }
        }
        histogram
    }

    /// The split of most gain over every feature and bin (ties: the first), None unless it
    /// gains and leaves min_samples_leaf rows and MIN_LEAF_HESSIAN each side.
    fn best_split(&self, histogram: &Histogram, total: Sums) -> Option<Split> {
        let (l2, min_rows) = (self.options.l2, f64::from(self.options.min_samples_leaf));
        let parent = total.score(l2);
        let mut best: Option<Split> = None;
        for (feature, bins) in histogram.iter().enumerate() {
            let missing = bins[MISSING as usize];
            let mut left = Sums::default();
            for (bin, &sums) in bins[..self.n_bins[feature] - 1].iter().enumerate() {
                left = left.plus(sums);
                // missing values go the side that gains more; without any in training,
                // the larger side, as scikit-learn sends them
                let choices = if missing.n > 0.0 {
                    [(left.plus(missing), true), (left, false)]
                } else {
                    let larger_left = 2.0 * left.n >= total.n;
                    [(left, larger_left), (left, larger_left)]
                };
                for (side, missing_left) in choices {
                    let other = total.minus(side);
                    let allowed = |s: Sums| s.n >= min_rows && s.h >= MIN_LEAF_HESSIAN;
                    if !allowed(side) || !allowed(other) {
                        continue;
                    }
                    let gain = 0.5 * (side.score(l2) + other.score(l2) - parent);
                    if gain > 1e-12 && best.is_none_or(|s| gain > s.gain) {
                        best = Some(Split { gain, feature, bin: bin as u8, missing_left });
                    }
                }
            }
        }
        best
    }

    fn open(&self, node: usize, rows: Range<usize>, depth: u32, histogram: Histogram) -> Open {
        let total = histogram[0].iter().fold(Sums::default(), |sum, &s| sum.plus(s));
        let split = (depth < self.options.max_depth).then(|| self.best_split(&histogram, total)).flatten();
        // only a leaf that will split needs its histogram (for its children's)
        let histogram = if split.is_some() { histogram } else { Vec::new() };
        Open { node, rows, depth, total, histogram, split }
    }

    /// Moves the rows of `rows` that go left to its front, keeping their order (a stable
    /// partition through `scratch`); returns how many went left. Without branches on the
    /// rows' sides, which no predictor guesses.
    fn partition(&self, rows: &mut [u32], scratch: &mut Vec<u32>, split: Split) -> usize {
        scratch.resize(rows.len(), 0);
        let (mut left, mut right) = (0, 0);
        for i in 0..rows.len() {
            let row = rows[i];
            let bin = self.bins[row as usize * self.d + split.feature];
            let missing = bin == MISSING;
            let goes_left = (missing & split.missing_left) | (!missing & (bin <= split.bin));
            // left <= i: the slot written was read already
            rows[left] = row;
            scratch[right] = row;
            left += usize::from(goes_left);
            right += usize::from(!goes_left);
        }
        rows[left..].copy_from_slice(&scratch[..right]);
        left
    }

    /// Grows one tree over `order` (row indices, reordered so that each leaf's rows are a
    /// range of it); returns the tree and each leaf's node and rows.
    fn grow(
        &self,
        order: &mut [u32],
        scratch: &mut Vec<u32>,
        gain: &mut [f64],
        interrupt: &mut dyn FnMut(),
    ) -> (Tree, Vec<(usize, Range<usize>)>) {
        let mut nodes = vec![Node::Leaf { value: 0.0 }];
        let root = self.histogram(order);
        let mut open = vec![self.open(0, 0..order.len(), 0, root)];
        let mut leaves = 1;
        while leaves < self.options.max_leaves {
            interrupt();
            // the open leaf of most gain; ties: the first opened
            let best = (0..open.len())
                .filter_map(|i| open[i].split.map(|s| (i, s.gain)))
                .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
            let Some((best, _)) = best else { break };
            let parent = open.remove(best);
            let split = parent.split.expect("chosen for its split");
            let rows = parent.rows.clone();
            let left_rows = self.partition(&mut order[rows.clone()], scratch, split);
            let (left, right) = (rows.start..rows.start + left_rows, rows.start + left_rows..rows.end);
            gain[split.feature] += split.gain;
            let left_node = nodes.len();
            nodes[parent.node] = Node::Split {
                feature: split.feature as u32,
                threshold: self.edges[split.feature][split.bin as usize],
                missing_left: split.missing_left,
                left: left_node as u32,
            };
            nodes.extend([Node::Leaf { value: 0.0 }; 2]);
            // the smaller child's histogram from its rows, the larger's by subtraction
            let left_is_smaller = left.len() <= right.len();
            let smaller = self.histogram(&order[if left_is_smaller { left.clone() } else { right.clone() }]);
            let mut larger = parent.histogram;
            for (sums, part) in larger.iter_mut().zip(&smaller) {
                sums.iter_mut().zip(part).for_each(|(sum, part)| *sum = sum.minus(*part));
            }
            let (left_histogram, right_histogram) =
                if left_is_smaller { (smaller, larger) } else { (larger, smaller) };
            let depth = parent.depth + 1;
            open.push(self.open(left_node, left, depth, left_histogram));
            open.push(self.open(left_node + 1, right, depth, right_histogram));
            leaves += 1;
        }
        let (learning_rate, l2) = (self.options.learning_rate, self.options.l2);
        let leaves = open
            .into_iter()
            .map(|leaf| {
                // the Newton step of the leaf's rows, shrunk by the learning rate
                let value = -learning_rate * leaf.total.g / (leaf.total.h + l2);
                nodes[leaf.node] = Node::Leaf { value: if value.is_finite() { value } else { 0.0 } };
                (leaf.node, leaf.rows)
            })
            .collect();
        (Tree { nodes }, leaves)
    }
}

/// Mean log loss of log-odds against labels.
fn log_loss(log_odds: &[f64], labels: &[bool]) -> f64 {
    let total: f64 = log_odds
        .iter()
        .zip(labels)
        // -ln p = ln(1 + e^-t) for a positive, -ln(1 - p) = ln(1 + e^t) for a negative
        .map(|(&t, &y)| softplus(if y { -t } else { t }))
        .sum();
    total / labels.len().max(1) as f64
}

/// scikit-learn's rule: stop when none of the last n_iter_no_change losses is below the
/// one before them by more than the tolerance.
fn should_stop(losses: &[f64], rule: EarlyStopping) -> bool {
    let n = rule.n_iter_no_change as usize;
    losses.len() > n && {
        let reference = losses[losses.len() - n - 1];
        losses[losses.len() - n..].iter().all(|&loss| loss >= reference - rule.tolerance)
    }
}

/// Fits the labels of `training`; with early stopping, watches the loss on `validation`.
pub fn fit(
    training: Rows,
    validation: Option<Rows>,
    options: &GbtOptions,
    interrupt: &mut dyn FnMut(),
) -> Result<Booster> {
    let (n, d) = (training.labels.len(), training.d);
    assert_eq!(training.features.len(), n * d, "n x d features");
    if n > u32::MAX as usize {
        return Err(Error::invalid_parameter("gbt fits at most 4,294,967,295 rows"));
    }
    interrupt();
    let columns: Vec<Range<usize>> = (0..d).map(|f| f..f + 1).collect();
    let edges: Vec<Vec<f64>> = parallel::map_ranges(&columns, parallel::threads_for(n), |f| {
        bin_edges(
            training.features.iter().skip(f.start).step_by(d).copied().collect(),
            options.max_bins as usize,
        )
    });
    interrupt();
    let n_bins: Vec<usize> = edges.iter().map(|e| e.len() + 1).collect();
    let mut bins = vec![0u8; n * d];
    parallel::for_each_rows(&mut bins, d, |first, run| {
        for (i, out) in run.chunks_exact_mut(d).enumerate() {
            let row = training.row(first + i);
            out.iter_mut().zip(row.iter().zip(&edges)).for_each(|(bin, (&x, e))| *bin = bin_of(e, x));
        }
    });

    let positives = training.labels.iter().filter(|&&y| y).count() as f64;
    let base_log_odds = (positives / (n as f64 - positives)).ln();
    let mut log_odds = vec![base_log_odds; n];
    let mut gh = vec![[0.0; 2]; n];
    let mut order: Vec<u32> = Vec::with_capacity(n);
    let mut scratch = Vec::with_capacity(n);
    let mut validation_log_odds = validation.map(|v| vec![base_log_odds; v.labels.len()]);
    let mut losses = Vec::new();
    let mut booster = Booster { base_log_odds, gain: vec![0.0; d], stopped_early: false, trees: Vec::new() };
    for _ in 0..options.n_trees {
        interrupt();
        parallel::for_each_rows(&mut gh, 1, |first, run| {
            for (i, gh) in run.iter_mut().enumerate() {
                let p = sigmoid(log_odds[first + i]);
                *gh = [p - f64::from(u8::from(training.labels[first + i])), p * (1.0 - p)];
            }
        });
        // each tree starts from the rows in order: sums in a fixed order, reads in sequence
        order.clear();
        order.extend(0..n as u32);
        let grower = Grower { bins: &bins, d, n_bins: &n_bins, edges: &edges, gh: &gh, options };
        let (tree, leaves) = grower.grow(&mut order, &mut scratch, &mut booster.gain, interrupt);
        for (node, rows) in leaves {
            let Node::Leaf { value } = tree.nodes[node] else { unreachable!("grow returns leaves") };
            order[rows].iter().for_each(|&row| log_odds[row as usize] += value);
        }
        if let (Some(rule), Some(v), Some(v_log_odds)) =
            (options.early_stopping, validation, &mut validation_log_odds)
        {
            if losses.is_empty() {
                losses.push(log_loss(v_log_odds, v.labels));
            }
            v_log_odds.iter_mut().enumerate().for_each(|(i, t)| *t += tree.value(v.row(i)));
            losses.push(log_loss(v_log_odds, v.labels));
            booster.trees.push(tree);
            if should_stop(&losses, rule) {
                booster.stopped_early = booster.trees.len() < options.n_trees as usize;
                break;
            }
        } else {
            booster.trees.push(tree);
        }
    }
    Ok(booster)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fit_one(features: &[f64], labels: &[bool], d: usize, options: &GbtOptions) -> Booster {
        fit(Rows { features, labels, d }, None, options, &mut || {}).unwrap()
    }

    #[test]
    fn bins_split_halfway_between_few_values_and_at_quantiles_of_many() {
        assert_eq!(bin_edges(vec![3.0, 1.0, f64::NAN, 2.0, 1.0], 255), [1.5, 2.5]);
        let edges = bin_edges((0..1000).map(f64::from).collect(), 4);
        assert_eq!(edges, [250.0, 500.0, 750.0]);
        assert_eq!(
            [bin_of(&edges, 250.0), bin_of(&edges, 250.5), bin_of(&edges, 1e9), bin_of(&edges, f64::NAN)],
            [0, 1, 3, MISSING]
        );
    }

    #[test]
    fn one_stump_splits_where_the_labels_change_with_leaf_values_by_hand() {
        // x = 0..9, label true from x = 6 on (with one exception at 3): the best first split
        // is between 5 and 6. With l2 = 0 and learning rate 1, a leaf's value is the Newton
        // step -G / H at the base log-odds; G and H computed by hand from p0 = 5 / 10.
        let features: Vec<f64> = (0..10).map(f64::from).collect();
        let labels: Vec<bool> = (0..10).map(|x| x >= 6 || x == 3).collect();
        let options = GbtOptions {
            n_trees: 1,
            learning_rate: 1.0,
            max_leaves: 2,
            min_samples_leaf: 1,
            ..Default::default()
        };
        let model = fit_one(&features, &labels, 1, &options);
        assert_eq!(model.base_log_odds, 0.0);
        // left: x 0..5, one positive: G = 6 x 0.5 - 1 = 2, H = 6 x 0.25 = 1.5, value -4/3;
        // right: x 6..9, all positive: G = 4 x 0.5 - 4 = -2, H = 1, value 2; no missing
        // values in training, so they go the larger side, left
        let tree = &model.trees[0];
        assert_eq!(tree.nodes[0], Node::Split { feature: 0, threshold: 5.5, missing_left: true, left: 1 });
        let value = |node: usize| match tree.nodes[node] {
            Node::Leaf { value } => value,
            split => panic!("{split:?}"),
        };
        assert!((value(1) + 4.0 / 3.0).abs() < 1e-12 && (value(2) - 2.0).abs() < 1e-12, "{tree:?}");
        // the gain: (G_L^2 / H_L + G_R^2 / H_R - G^2 / H) / 2 = (4 / 1.5 + 4 / 1 - 0) / 2
        assert!((model.gain[0] - (4.0 / 1.5 + 4.0) / 2.0).abs() < 1e-12);
        assert!((model.log_odds(&[5.0]) + 4.0 / 3.0).abs() < 1e-12);
        assert!((model.log_odds(&[5.6]) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn missing_values_go_the_side_that_gains_or_else_the_larger() {
        // missing values are all positive, like the large x: they must go right
        let mut features: Vec<f64> = (0..40).map(f64::from).collect();
        let mut labels: Vec<bool> = (0..40).map(|x| x >= 20).collect();
        features.extend([f64::NAN; 10]);
        labels.extend([true; 10]);
        let options = GbtOptions { n_trees: 1, max_leaves: 2, min_samples_leaf: 5, ..Default::default() };
        let model = fit_one(&features, &labels, 1, &options);
        assert_eq!(
            model.trees[0].nodes[0],
            Node::Split { feature: 0, threshold: 19.5, missing_left: false, left: 1 }
        );
        assert!(model.probability(&[f64::NAN]) > model.probability(&[0.0]));
        // none missing in training, 30 rows left of the split and 10 right: missing go left
        let labels: Vec<bool> = (0..40).map(|x| x >= 30).collect();
        let model = fit_one(&features[..40], &labels, 1, &options);
        assert_eq!(
            model.trees[0].nodes[0],
            Node::Split { feature: 0, threshold: 29.5, missing_left: true, left: 1 }
        );
    }

    /// 2,000 rows of two features from a fixed rule.
    fn rows() -> (Vec<f64>, Vec<bool>) {
        let features = (0..2000).flat_map(|i| [(i % 97) as f64, (i * 31 % 53) as f64]).collect();
        let labels = (0..2000).map(|i| (i * 7919 % 100) < (i % 97)).collect();
        (features, labels)
    }

    #[test]
    fn trees_respect_max_leaves_max_depth_and_min_samples_leaf_and_lower_the_loss() {
        let (features, labels) = rows();
        let options = GbtOptions {
            n_trees: 5,
            max_leaves: 7,
            max_depth: 2,
            min_samples_leaf: 50,
            ..Default::default()
        };
        let mut checks = 0;
        let model =
            fit(Rows { features: &features, labels: &labels, d: 2 }, None, &options, &mut || checks += 1)
                .unwrap();
        for tree in &model.trees {
            // depth 2 allows 4 leaves, fewer than max_leaves
            assert!(tree.leaves() <= 4, "{tree:?}");
        }
        assert!(checks >= 5 * 3, "interrupts checked between trees and splits: {checks}");
        let wide = fit_one(&features, &labels, 2, &GbtOptions { max_depth: 10, ..options });
        assert!(wide.trees.iter().all(|t| t.leaves() <= 7) && wide.trees.iter().any(|t| t.leaves() == 7));
        let loss = |m: &Booster| {
            let log_odds: Vec<f64> = features.chunks(2).map(|r| m.log_odds(r)).collect();
            log_loss(&log_odds, &labels)
        };
        let one = fit_one(&features, &labels, 2, &GbtOptions { n_trees: 1, ..options });
        assert!(loss(&model) < loss(&one) && loss(&one) < log_loss(&vec![one.base_log_odds; 2000], &labels));
        // a leaf of fewer than min_samples_leaf rows would end every tree's loss here
        let counts: Vec<usize> = model.trees.iter().map(Tree::leaves).collect();
        assert!(counts.iter().all(|&c| c >= 2), "{counts:?}");
    }

    #[test]
    fn early_stopping_follows_scikit_learns_rule() {
        let rule = EarlyStopping { n_iter_no_change: 2, tolerance: 0.1 };
        // the reference is the loss n_iter_no_change + 1 from the end
        assert!(!should_stop(&[1.0, 0.5], rule));
        assert!(!should_stop(&[1.0, 0.95, 0.85], rule));
        assert!(should_stop(&[1.0, 0.95, 0.91], rule));
        let (features, labels) = rows();
        let training = Rows { features: &features[..3000], labels: &labels[..1500], d: 2 };
        let validation = Rows { features: &features[3000..], labels: &labels[1500..], d: 2 };
        let options = GbtOptions {
            n_trees: 500,
            learning_rate: 0.5,
            early_stopping: Some(EarlyStopping { n_iter_no_change: 5, tolerance: 1e-7 }),
            ..Default::default()
        };
        let model = fit(training, Some(validation), &options, &mut || {}).unwrap();
        assert!(model.stopped_early && model.trees.len() < 500, "{}", model.trees.len());
        // the validation loss of the kept trees against the one 5 trees before the end
        let loss_with = |trees: usize| {
            let cut = Booster { trees: model.trees[..trees].to_vec(), ..model.clone() };
            let log_odds: Vec<f64> = (0..500).map(|i| cut.log_odds(validation.row(i))).collect();
            log_loss(&log_odds, validation.labels)
        };
        let n = model.trees.len();
        assert!((n - 4..=n).all(|t| loss_with(t) >= loss_with(n - 5) - 1e-7));
    }

    #[test]
    fn scoring_four_trees_in_step_sums_as_one_tree_after_another() {
        let (features, labels) = rows();
        let model = fit_one(&features, &labels, 2, &GbtOptions { n_trees: 11, ..Default::default() });
        for row in features.chunks(2).take(200) {
            let one_by_one = model.trees.iter().fold(model.base_log_odds, |sum, tree| sum + tree.value(row));
            assert_eq!(model.log_odds(row), one_by_one);
        }
    }

    #[test]
    fn trees_round_trip_through_their_arrays_and_damaged_ones_are_refused() {
        let (features, labels) = rows();
        let model = fit_one(&features, &labels, 2, &GbtOptions { n_trees: 3, ..Default::default() });
        let text = serde_json::to_string(&model).unwrap();
        assert_eq!(serde_json::from_str::<Booster>(&text).unwrap(), model);
        assert!(model.is_consistent(2) && !model.is_consistent(1));
        let leaf = r#"{"feature":[null],"threshold":[0],"missing_left":[false],"left":[0],"value":[0.5]}"#;
        assert!(serde_json::from_str::<Tree>(leaf).is_ok());
        for bad in [
            r#"{"feature":[0],"threshold":[0],"missing_left":[false],"left":[0],"value":[0]}"#,
            r#"{"feature":[0,null,null],"threshold":[0,0,0],"missing_left":[false,false,false],"left":[0,0,0],"value":[0,1,1]}"#,
            r#"{"feature":[null],"threshold":[0,1],"missing_left":[false],"left":[0],"value":[0.5]}"#,
            r#"{"feature":[],"threshold":[],"missing_left":[],"left":[],"value":[]}"#,
        ] {
            assert!(serde_json::from_str::<Tree>(bad).is_err(), "{bad}");
        }
    }
}
