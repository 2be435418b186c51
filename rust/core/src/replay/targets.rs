//! The n-step value target of MuZero (Schrittwieser et al. 2020, eq. 4 and appendix G).
//!
//! With `g` the effective discount (`-discount` in two-player games, where every
//! value is from the view of the player to move) and `n = td_steps`:
//!
//! `z_t = sum_{i<n} g^i u_{t+i+1} + g^n v_{t+n}`
//!
//! where rewards past the end `T` are 0 (absorbing states) and the bootstrap
//! `v_{t+n}` is `root_values[t+n]` if `t+n < T`, else `bootstrap_value` if the
//! game was truncated (not terminated), else 0.
//!
//! The unroll rules that use `z` (values, rewards, policies and masks for
//! `k = 0..K`) are applied when a batch is assembled, in `replay::sample`.

/// The effective discount `g`: `discount`, or `-discount` when two players alternate.
pub fn signed_discount(discount: f64, two_player: bool) -> f64 {
    if two_player {
        -discount
    } else {
        discount
    }
}

/// `g^n` for any `n` (`powi` takes an `i32`).
fn power(g: f64, n: usize) -> f64 {
    match i32::try_from(n) {
        Ok(n) => g.powi(n),
        Err(_) => g.powf(n as f64),
    }
}

/// The n-step value targets `z_0 .. z_{T-1}` of one game.
///
/// * `rewards`: `[T]`, `rewards[j] = u_{j+1}`, the reward that follows action `a_j`.
/// * `root_values`: `[T]`, the search value `v_t` at each position.
/// * `terminated`: the game ended in a terminal state (no bootstrap past `T`).
/// * `bootstrap_value`: `v_T` of a truncated game.
/// * `g`: the effective discount; `n`: `td_steps`.
///
/// Sums in `f64`, O(T * min(n, T)).
pub fn n_step_values(
    rewards: &[f32],
    root_values: &[f32],
    terminated: bool,
    bootstrap_value: f32,
    g: f64,
    n: usize,
) -> Vec<f32> {
    let steps = rewards.len();
    let g_n = power(g, n);
    (0..steps)
        .map(|t| {
            let mut discounted_rewards = 0.0f64;
            let mut g_i = 1.0f64;
            for &u in rewards.iter().skip(t).take(n) {
                discounted_rewards += g_i * f64::from(u);
                g_i *= g;
            }
            let bootstrap = match root_values.get(t.saturating_add(n)) {
                Some(&v) => f64::from(v),
                None if terminated => 0.0,
                None => f64::from(bootstrap_value),
            };
            (discounted_rewards + g_n * bootstrap) as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_step_returns_reward_plus_discounted_next_value() {
        let z = n_step_values(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0], true, 99.0, 0.5, 1);
        assert_eq!(z, vec![1.0 + 0.5 * 20.0, 2.0 + 0.5 * 30.0, 3.0]);
    }

    #[test]
    fn truncated_games_bootstrap_past_the_end() {
        let z = n_step_values(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0], false, 8.0, 0.5, 2);
        assert_eq!(z, vec![1.0 + 0.5 * 2.0 + 0.25 * 30.0, 2.0 + 0.5 * 3.0 + 0.25 * 8.0, 3.0 + 0.25 * 8.0]);
    }

    #[test]
    fn two_players_flip_the_sign_each_ply() {
        let g = signed_discount(1.0, true);
        // Terminated, n larger than the game: the return to go with alternating signs.
        let z = n_step_values(&[0.0, 0.0, 1.0], &[0.0; 3], true, 0.0, g, 10);
        assert_eq!(z, vec![1.0, -1.0, 1.0]);
    }

    #[test]
    fn zero_td_steps_is_the_root_value() {
        let z = n_step_values(&[1.0, 2.0], &[5.0, 6.0], true, 0.0, 0.9, 0);
        assert_eq!(z, vec![5.0, 6.0]);
    }

    #[test]
    fn huge_td_steps_do_not_overflow() {
        let z = n_step_values(&[1.0, 1.0], &[5.0, 6.0], false, 3.0, 0.5, usize::MAX);
        assert_eq!(z, vec![1.5, 1.0]);
    }
}
