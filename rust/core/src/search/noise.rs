//! Root noise: Dirichlet (AlphaZero/MuZero exploration) and Gumbel (Gumbel MuZero).
//!
//! Every game draws from its own generator, seeded from `(seed, game index)`, so a
//! game's result depends neither on the other games in the batch nor on the number
//! of threads.

use rand::distr::Open01;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma};

use crate::{Error, Result};

/// The generator of game `game` in a search seeded with `seed`: one ChaCha8 stream per game.
pub(crate) fn game_rng(seed: u64, game: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(game as u64);
    rng
}

/// Writes a sample of `Dir(alpha, ..., alpha)` over the legal actions into `out`
/// (0 on illegal ones). Sampled in log space, `ln X = ln Y + ln(U) / alpha` with
/// `Y ~ Gamma(alpha + 1)` and `U ~ U(0, 1)`, so that a small `alpha` cannot
/// underflow every component to 0.
pub(crate) fn dirichlet_into(
    rng: &mut ChaCha8Rng,
    alpha: f64,
    legal: &[bool],
    out: &mut [f64],
) -> Result<()> {
    if !(alpha > 0.0 && alpha.is_finite()) {
        return Err(Error::invalid("dirichlet_alpha", "a finite number > 0", alpha));
    }
    let gamma = Gamma::new(alpha + 1.0, 1.0)
        .map_err(|e| Error::invalid("dirichlet_alpha", "a finite number > 0", e))?;
    let mut max = f64::NEG_INFINITY;
    for (o, &l) in out.iter_mut().zip(legal) {
        if l {
            let y: f64 = gamma.sample(rng);
            let u: f64 = rng.sample(Open01);
            // clamped: for a subnormal alpha the quotient overflows, and components
            // at -inf would make the normalisation below NaN
            *o = y.ln() + (u.ln() / alpha).max(f64::MIN);
            max = max.max(*o);
        }
    }
    let mut sum = 0.0;
    for (o, &l) in out.iter_mut().zip(legal) {
        *o = if l { (*o - max).exp() } else { 0.0 };
        sum += *o;
    }
    for o in out.iter_mut() {
        *o /= sum;
    }
    Ok(())
}

/// Writes `scale * Gumbel(0, 1)` samples for the legal actions into `out` (0 elsewhere).
pub(crate) fn gumbel_into(rng: &mut ChaCha8Rng, scale: f64, legal: &[bool], out: &mut [f64]) {
    for (o, &l) in out.iter_mut().zip(legal) {
        *o = if l && scale != 0.0 {
            let u: f64 = rng.sample(Open01);
            scale * -(-u.ln()).ln()
        } else {
            0.0
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirichlet_is_a_distribution_over_legal_actions_even_for_tiny_alpha() {
        let legal = [true, false, true, true];
        for alpha in [f64::from_bits(1), 1e-300, 1e-3, 0.3, 10.0] {
            let mut out = [0.0; 4];
            dirichlet_into(&mut game_rng(7, 0), alpha, &legal, &mut out).unwrap();
            assert_eq!(out[1], 0.0);
            assert!((out.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{out:?}");
            assert!(out.iter().all(|p| p.is_finite() && *p >= 0.0));
        }
    }

    #[test]
    fn dirichlet_mean_is_uniform() {
        let legal = [true; 3];
        let mut mean = [0.0; 3];
        let mut rng = game_rng(1, 2);
        let trials = 20_000;
        for _ in 0..trials {
            let mut out = [0.0; 3];
            dirichlet_into(&mut rng, 0.3, &legal, &mut out).unwrap();
            for (m, o) in mean.iter_mut().zip(out) {
                *m += o / f64::from(trials);
            }
        }
        // Var of a Dir(0.3,0.3,0.3) component is 2/9/1.9 ~ 0.117, so the mean's sd is ~0.0024.
        assert!(mean.iter().all(|m| (m - 1.0 / 3.0).abs() < 0.015), "{mean:?}");
    }

    #[test]
    fn streams_differ_by_game_and_repeat_by_seed() {
        let legal = [true; 4];
        let draw = |seed, game| {
            let mut out = [0.0; 4];
            gumbel_into(&mut game_rng(seed, game), 1.0, &legal, &mut out);
            out
        };
        assert_eq!(draw(3, 5), draw(3, 5));
        assert_ne!(draw(3, 5), draw(3, 6));
        assert_ne!(draw(3, 5), draw(4, 5));
        let mut zero = [1.0; 4];
        gumbel_into(&mut game_rng(3, 5), 0.0, &legal, &mut zero);
        assert_eq!(zero, [0.0; 4]);
    }
}
