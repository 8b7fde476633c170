//! Choosing the next token from logits: repetition penalty, top-k, top-p,
//! min-p, temperature, then a draw from a seeded RNG of our own, so a seed gives
//! the same tokens on every target (native and wasm). The order follows
//! llama.cpp's default chain (penalties, top-k, top-p, min-p, temperature,
//! draw): top-p and min-p see the untempered distribution.

use crate::error::{Error, Result};

/// xoshiro256** seeded through splitmix64: small, fast, and the same bits everywhere.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut z = seed;
        let mut next = || {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            x ^ (x >> 31)
        };
        Rng { s: [next(), next(), next(), next()] }
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Sampling settings, in llama.cpp's spelling and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplerConfig {
    /// 0 (or below) means greedy.
    pub temperature: f32,
    /// 0 disables.
    pub top_k: usize,
    /// 1.0 disables.
    pub top_p: f32,
    /// 0.0 disables.
    pub min_p: f32,
    /// 1.0 disables.
    pub repeat_penalty: f32,
    /// How many of the latest tokens the penalty looks at.
    pub repeat_last_n: usize,
    pub seed: u64,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repeat_penalty: 1.0,
            repeat_last_n: 64,
            seed: 0,
        }
    }
}

impl SamplerConfig {
    pub fn greedy() -> Self {
        SamplerConfig { temperature: 0.0, ..Self::default() }
    }

    /// Refuses settings that cannot sample: non-finite numbers (a NaN
    /// temperature would make every probability NaN), a penalty of 0 or below,
    /// negative top-p or min-p. A negative temperature stays greedy, as in llama.cpp.
    pub fn check(&self) -> Result<()> {
        let bad = |what: &'static str, value: f32, expected: &str| {
            Err(Error::BadSetting { what, why: format!("{value} must be {expected}") })
        };
        if !self.temperature.is_finite() {
            return bad("temperature", self.temperature, "a finite number (0 or below: greedy)");
        }
        if !(self.top_p.is_finite() && self.top_p >= 0.0) {
            return bad("top-p", self.top_p, "a finite number from 0 (1 or more disables it)");
        }
        if !(self.min_p.is_finite() && self.min_p >= 0.0) {
            return bad("min-p", self.min_p, "a finite number from 0 (0 disables it)");
        }
        if !(self.repeat_penalty.is_finite() && self.repeat_penalty > 0.0) {
            return bad("repeat penalty", self.repeat_penalty, "a finite number above 0 (1 disables it)");
        }
        Ok(())
    }
}

pub struct Sampler {
    pub config: SamplerConfig,
    rng: Rng,
    /// (token, logit or probability), reused across calls: sampling allocates nothing.
    candidates: Vec<(u32, f32)>,
}

impl Sampler {
    pub fn new(config: SamplerConfig) -> Sampler {
        let rng = Rng::new(config.seed);
        Sampler { config, rng, candidates: Vec::new() }
    }

    /// Picks the next token. `logits` is modified (penalties); `history` holds
    /// the tokens so far (prompt included).
    pub fn sample(&mut self, logits: &mut [f32], history: &[u32]) -> u32 {
        let c = &self.config;
        if c.repeat_penalty != 1.0 && c.repeat_last_n > 0 {
            let recent = &history[history.len().saturating_sub(c.repeat_last_n)..];
            for (i, &t) in recent.iter().enumerate() {
                // Each distinct token once.
                if recent[..i].contains(&t) {
                    continue;
                }
                if let Some(l) = logits.get_mut(t as usize) {
                    *l = if *l > 0.0 { *l / c.repeat_penalty } else { *l * c.repeat_penalty };
                }
            }
        }
        if c.temperature <= 0.0 {
            return argmax(logits);
        }
        let cand = &mut self.candidates;
        cand.clear();
        cand.extend(logits.iter().enumerate().map(|(i, &l)| (i as u32, l)));
        // Highest logit first; ties by lower id, so the order is the same everywhere.
        let by_logit = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if c.top_k > 0 && c.top_k < cand.len() {
            cand.select_nth_unstable_by(c.top_k - 1, by_logit);
            cand.truncate(c.top_k);
        }
        cand.sort_unstable_by(by_logit);
        // Probabilities at temperature 1 for top-p and min-p.
        softmax(cand, 1.0);
        if c.top_p < 1.0 {
            let mut cumulative = 0.0f32;
            let mut keep = cand.len();
            for (i, &(_, p)) in cand.iter().enumerate() {
                cumulative += p;
                if cumulative >= c.top_p {
                    keep = i + 1;
                    break;
                }
            }
            cand.truncate(keep.max(1));
        }
        if c.min_p > 0.0 {
            let threshold = cand[0].1 * c.min_p;
            let keep = cand.iter().take_while(|&&(_, p)| p >= threshold).count();
            cand.truncate(keep.max(1));
        }
        // Temperature on what is left: back to logits (log p), scale, renormalize.
        for entry in cand.iter_mut() {
            entry.1 = entry.1.ln();
        }
        softmax(cand, c.temperature);
        let u = self.rng.next_f64() as f32;
        let mut cumulative = 0.0f32;
        for &(t, p) in cand.iter() {
            cumulative += p;
            if u < cumulative {
                return t;
            }
        }
        cand.last().map_or(0, |&(t, _)| t)
    }
}

/// The index of the largest logit (the lowest on ties; NaN never wins).
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] || logits[best].is_nan() {
            best = i;
        }
    }
    best as u32
}

/// In place: values → softmax(values / temperature), for a list sorted by value.
fn softmax(cand: &mut [(u32, f32)], temperature: f32) {
    let max = cand.iter().map(|c| c.1).fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    for entry in cand.iter_mut() {
        entry.1 = ((entry.1 - max) / temperature).exp();
        sum += entry.1;
    }
    for entry in cand.iter_mut() {
        entry.1 /= sum;
    }
}
