//! The n-step value target of MuZero (Schrittwieser et al. 2020, eq. 4 and appendix G).
//!
//! With `g` the effective discount (`-discount` in two-player games, where every
//! value is from the view of the player to move), `n = td_steps` and a game of
//! `T` transitions:
//!
//! `z_t = sum_{i<m} g^i u_{t+i+1} + g^m v_{t+m}`, with `m = min(n, T - t)`
//!
//! where the bootstrap `v_{t+m}` is `root_values[t+m]` if `t+m < T`; at the end
//! (`t+m = T`) it is `bootstrap_value`, the value of `o_T`, if the game was
//! truncated, and 0 if it terminated. A truncated game's bootstrap lies `T - t`
//! steps ahead of `t`, so it is discounted by `g^(T-t)`, not `g^n` (in two-player
//! games the power also decides its sign).
//!
//! Targets are computed when a batch is sampled, from the stored (or reanalysed)
//! root values: [`n_step`] splits `z_t` into the discounted rewards and the
//! discounted bootstrap, so that a reanalysis can swap in fresh values. The unroll
//! rules that use `z` (values, rewards, policies and masks for `k = 0..K`) are
//! applied in `replay::sample`.

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

/// `z_t` in parts: `z_t = reward_sum + discount * v_{bootstrap_position}`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NStep {
    /// `sum_{i<m} g^i u_{t+i+1}`.
    pub reward_sum: f64,
    /// `g^m` when a value is bootstrapped, 0 when the game terminated within the horizon.
    pub discount: f64,
    /// `t + m`, the position whose value bootstraps `z_t` (`T` for a truncated game's
    /// `bootstrap_value`); `None` when the game terminated within the horizon.
    pub bootstrap_position: Option<usize>,
}

impl NStep {
    /// `z_t`, with `value(p)` the value `v_p` at the bootstrap position `p` (`p = T`:
    /// the truncated game's `bootstrap_value`).
    pub fn target(&self, value: impl Fn(usize) -> f32) -> f64 {
        let bootstrap = self.bootstrap_position.map_or(0.0, |p| f64::from(value(p)));
        self.reward_sum + self.discount * bootstrap
    }
}

/// The parts of `z_t` for position `t < T` of a game of `steps = T` transitions whose
/// rewards `reward(j) = u_{j+1}` (the reward that follows `a_j`) are read on demand.
///
/// `terminated`: the game ended in a terminal state (no bootstrap at `T`); `g` the
/// effective discount; `n` = `td_steps`. Sums in `f64`, O(min(n, T - t)).
pub fn n_step(
    steps: usize,
    reward: impl Fn(usize) -> f32,
    t: usize,
    terminated: bool,
    g: f64,
    n: usize,
) -> NStep {
    let m = n.min(steps.saturating_sub(t));
    let mut reward_sum = 0.0f64;
    let mut g_i = 1.0f64;
    for j in t..t + m {
        reward_sum += g_i * f64::from(reward(j));
        g_i *= g;
    }
    let end = t + m;
    if end < steps || !terminated {
        NStep { reward_sum, discount: power(g, m), bootstrap_position: Some(end) }
    } else {
        NStep { reward_sum, discount: 0.0, bootstrap_position: None }
    }
}

/// The n-step value targets `z_0 .. z_{T-1}` of one game.
///
/// * `rewards`: `[T]`, `rewards[j] = u_{j+1}`, the reward that follows action `a_j`.
/// * `root_values`: `[T]`, the search value `v_t` at each position.
/// * `terminated`: the game ended in a terminal state (no bootstrap at `T`).
/// * `bootstrap_value`: `v_T` of a truncated game.
/// * `g`: the effective discount; `n`: `td_steps`.
pub fn n_step_values(
    rewards: &[f32],
    root_values: &[f32],
    terminated: bool,
    bootstrap_value: f32,
    g: f64,
    n: usize,
) -> Vec<f32> {
    (0..rewards.len())
        .map(|t| {
            let parts = n_step(rewards.len(), |j| rewards[j], t, terminated, g, n);
            parts.target(|p| root_values.get(p).copied().unwrap_or(bootstrap_value)) as f32
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
    fn truncated_games_bootstrap_from_the_end_discounted_by_the_steps_to_it() {
        // n = 2, T = 3: z_2 reaches o_3 after one step, so its bootstrap takes g^1.
        let z = n_step_values(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0], false, 8.0, 0.5, 2);
        assert_eq!(z, vec![1.0 + 0.5 * 2.0 + 0.25 * 30.0, 2.0 + 0.5 * 3.0 + 0.25 * 8.0, 3.0 + 0.5 * 8.0]);
    }

    #[test]
    fn a_truncated_two_player_bootstrap_keeps_its_sign() {
        // g = -1, n = 2, T = 1: o_1 is one ply ahead, so its value (from the view of the
        // player to move there) counts with sign -1, not (+1) = (-1)^2.
        let g = signed_discount(1.0, true);
        let z = n_step_values(&[0.0], &[0.3], false, 0.75, g, 2);
        assert_eq!(z, vec![-0.75]);
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
        assert_eq!(z, vec![1.0 + 0.5 + 0.25 * 3.0, 1.0 + 0.5 * 3.0]);
    }

    #[test]
    fn the_parts_name_the_bootstrap_position() {
        let rewards = [1.0f32, 2.0, 3.0];
        let reward = |j: usize| rewards[j];
        let parts = n_step(3, reward, 1, false, 0.5, 5);
        assert_eq!(parts, NStep { reward_sum: 2.0 + 1.5, discount: 0.25, bootstrap_position: Some(3) });
        let parts = n_step(3, reward, 1, true, 0.5, 5);
        assert_eq!(parts, NStep { reward_sum: 2.0 + 1.5, discount: 0.0, bootstrap_position: None });
        let parts = n_step(3, reward, 0, true, 0.5, 1);
        assert_eq!(parts, NStep { reward_sum: 1.0, discount: 0.5, bootstrap_position: Some(1) });
    }
}
