//! Criterion benches of the pure core: one whole batched search with a constant
//! model (no Python), per algorithm and batch size.
//!
//! `cargo bench -p mzero-core --bench search`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mzero_core::search::{run, Algorithm, BatchSearch, Evaluation, LeafRequests, Roots, SearchConfig};

fn constant_model(_: &LeafRequests, eval: &mut Evaluation) -> mzero_core::Result<()> {
    eval.reward.fill(0.01);
    eval.value.fill(0.5);
    // Non-uniform logits so that selection does real work.
    let a = eval.logits.len() / eval.reward.len();
    for (i, l) in eval.logits.iter_mut().enumerate() {
        *l = (i % a) as f32 * 0.1;
    }
    Ok(())
}

fn bench_search(c: &mut Criterion) {
    let mut group = c.benchmark_group("search");
    group.sample_size(20);
    let (num_actions, num_simulations) = (9, 50);
    for algorithm in [Algorithm::MuZero, Algorithm::Gumbel] {
        for batch in [1usize, 16, 256] {
            let config = SearchConfig { algorithm, num_simulations, ..SearchConfig::default() };
            let value = vec![0.0f32; batch];
            let logits: Vec<f32> = (0..batch * num_actions).map(|i| (i % 7) as f32 * 0.2).collect();
            let roots = Roots { value: &value, logits: &logits, num_actions, legal_mask: None };
            let mut search = BatchSearch::new();
            group.throughput(Throughput::Elements((batch * num_simulations) as u64));
            group.bench_with_input(BenchmarkId::new(algorithm.to_string(), batch), &batch, |b, _| {
                b.iter(|| black_box(run(&mut search, &config, roots, 0, constant_model)))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_search);
criterion_main!(benches);
