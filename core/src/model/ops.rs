//! The element-wise and per-row operations of the decoder, each written to
//! follow ggml's CPU definition (summation precision, GELU through f16) so
//! greedy outputs match llama.cpp's.

use super::config::RopeKind;

/// Defines `pub fn $name` twice over one `#[inline(always)]` body: once for
/// the baseline target and once with AVX2+FMA+F16C enabled, picked at run time
/// on x86_64. Without it, `mul_add` in a baseline x86_64 build is a call to
/// the C library's software `fmaf`, and loops do not vectorize past SSE2.
macro_rules! fma_dispatch {
    ($(#[$meta:meta])* pub fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        pub fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma,f16c")]
                unsafe fn with_fma($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                if $crate::kernels::Isa::detect().has_avx2_fma() {
                    // SAFETY: the CPU has the features `with_fma` is compiled for.
                    return unsafe { with_fma($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}
pub(crate) use fma_dispatch;

/// `a·b + c` with one rounding. wasm32 has no fused multiply-add instruction
/// and its `fmaf` is a slow library routine; there the exact product in f64
/// plus `c` rounds to the same f32 except in double-rounding cases (about one
/// in 2^29), which keeps native and browser runs in step in practice.
#[inline(always)]
pub fn fmadd(a: f32, b: f32, c: f32) -> f32 {
    #[cfg(target_arch = "wasm32")]
    {
        (a as f64 * b as f64 + c as f64) as f32
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        a.mul_add(b, c)
    }
}

/// `x` rounded to the nearest f16 value (ties to even), returned as f32:
/// `f16::from_f32(x).to_f32()` without conversions, so loops vectorize.
/// Handles f16 subnormals and overflow to infinity; NaN stays NaN.
#[inline(always)]
pub fn round_to_f16(x: f32) -> f32 {
    const F16_MIN_NORMAL: f32 = 6.103_515_6e-5; // 2^-14
    if x.abs() < F16_MIN_NORMAL {
        // Subnormal f16: a fixed step of 2^-24, exact in f32.
        return (x * 16_777_216.0).round_ties_even() * 5.960_464_5e-8;
    }
    let bits = x.to_bits();
    // Round the 23-bit mantissa to 10 bits, ties to even.
    let rounded = f32::from_bits(bits.wrapping_add(0x0FFF + ((bits >> 13) & 1)) & !0x1FFF);
    if rounded.abs() > 65504.0 && x.is_finite() {
        f32::INFINITY.copysign(x)
    } else if x.is_nan() {
        x
    } else {
        rounded
    }
}

/// `acc[i] = round_to_f16(fmadd(x[i], w, acc[i]))`: a value row added into an
/// accumulator kept in f16 (attention's weighted sum).
#[inline(always)]
pub fn mad_round_f16(acc: &mut [f32], x: &[f32], w: f32) {
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::Isa::detect().has_avx2_fma() {
        // SAFETY: the CPU has AVX2, FMA and F16C.
        return unsafe { f16c::mad_round(acc, x, w) };
    }
    for (a, &v) in acc.iter_mut().zip(x) {
        *a = round_to_f16(fmadd(v, w, *a));
    }
}

/// `acc[i] = round_to_f16(acc[i] * r)`.
#[inline(always)]
pub fn scale_round_f16(acc: &mut [f32], r: f32) {
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::Isa::detect().has_avx2_fma() {
        // SAFETY: the CPU has AVX2, FMA and F16C.
        return unsafe { f16c::scale_round(acc, r) };
    }
    for a in acc.iter_mut() {
        *a = round_to_f16(*a * r);
    }
}

/// The f16 roundings above in hardware: `vcvtps2ph` rounds to nearest even
/// with f16 subnormals and overflow to infinity, as [`round_to_f16`] does
/// (tests compare them).
#[cfg(target_arch = "x86_64")]
mod f16c {
    use std::arch::x86_64::*;

    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    fn round8(x: __m256) -> __m256 {
        _mm256_cvtph_ps(_mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(x))
    }

    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn mad_round(acc: &mut [f32], x: &[f32], w: f32) {
        let n = acc.len().min(x.len());
        let n8 = n / 8 * 8;
        let wv = _mm256_set1_ps(w);
        for i in (0..n8).step_by(8) {
            // SAFETY: i + 8 <= n, within both slices.
            unsafe {
                let a = _mm256_loadu_ps(acc.as_ptr().add(i));
                let v = _mm256_loadu_ps(x.as_ptr().add(i));
                _mm256_storeu_ps(acc.as_mut_ptr().add(i), round8(_mm256_fmadd_ps(v, wv, a)));
            }
        }
        for i in n8..n {
            acc[i] = super::round_to_f16(x[i].mul_add(w, acc[i]));
        }
    }

    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn scale_round(acc: &mut [f32], r: f32) {
        let n8 = acc.len() / 8 * 8;
        let rv = _mm256_set1_ps(r);
        for i in (0..n8).step_by(8) {
            // SAFETY: i + 8 <= acc.len().
            unsafe {
                let a = _mm256_loadu_ps(acc.as_ptr().add(i));
                _mm256_storeu_ps(acc.as_mut_ptr().add(i), round8(_mm256_mul_ps(a, rv)));
            }
        }
        for a in &mut acc[n8..] {
            *a = super::round_to_f16(*a * r);
        }
    }
}

/// Dot product with eight independent accumulators, which the compiler turns
/// into SIMD adds (a single running sum cannot be reordered without fast-math).
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0.0f32; 8];
    let (a8, a_rest) = a.split_at(a.len() / 8 * 8);
    let (b8, b_rest) = b.split_at(a8.len());
    for (x, y) in a8.chunks_exact(8).zip(b8.chunks_exact(8)) {
        for i in 0..8 {
            acc[i] = fmadd(x[i], y[i], acc[i]);
        }
    }
    let mut sum = (acc[0] + acc[4]) + (acc[1] + acc[5]) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in a_rest.iter().zip(b_rest) {
        sum += x * y;
    }
    sum
}

/// Dot product summed in the order of ggml's `ggml_vec_dot_f16` on a CPU with
/// 512-bit vectors: four accumulators of 16 lanes over steps of 64, folded
/// pairwise, then lanes reduced as `_mm512_reduce_add_ps` does; a tail past a
/// multiple of 64 is added in f64. Attention scores use it so that softmax
/// weights equal llama.cpp's to the bit (head sizes are multiples of 64).
#[inline(always)]
pub fn dot_ggml_order(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let n64 = a.len() / 64 * 64;
    // Accumulator j's lane l is acc[16 * j + l]: one flat array, so that the
    // loop vectorizes into whole-register FMAs.
    let mut acc = [0.0f32; 64];
    for (x, y) in a[..n64].chunks_exact(64).zip(b[..n64].chunks_exact(64)) {
        let (x, y): (&[f32; 64], &[f32; 64]) = (x.try_into().unwrap(), y.try_into().unwrap());
        for i in 0..64 {
            acc[i] = fmadd(x[i], y[i], acc[i]);
        }
    }
    let mut v = [0.0f32; 16];
    for l in 0..16 {
        v[l] = (acc[l] + acc[32 + l]) + (acc[16 + l] + acc[48 + l]);
    }
    let mut t8 = [0.0f32; 8];
    for l in 0..8 {
        t8[l] = v[l + 8] + v[l];
    }
    let mut t4 = [0.0f32; 4];
    for l in 0..4 {
        t4[l] = t8[l + 4] + t8[l];
    }
    let sum = (t4[0] + t4[2]) + (t4[1] + t4[3]);
    if n64 == a.len() {
        return sum;
    }
    let tail: f64 = a[n64..].iter().zip(&b[n64..]).map(|(x, y)| (x * y) as f64).sum();
    (sum as f64 + tail) as f32
}

/// `y += a * x`.
#[inline(always)]
pub fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi = fmadd(a, *xi, *yi);
    }
}

/// `out = x / rms(x) * weight`; the sum of squares in f64 as ggml does.
pub fn rms_norm(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    let sum: f64 = x.iter().map(|&v| (v * v) as f64).sum();
    let mean = (sum / x.len() as f64) as f32;
    let scale = 1.0 / (mean + eps).sqrt();
    for ((o, &v), &w) in out.iter_mut().zip(x).zip(weight) {
        *o = v * scale * w;
    }
}

/// In place, for every `row_len` row of `x`.
pub fn rms_norm_rows_in_place(x: &mut [f32], row_len: usize, weight: &[f32], eps: f32) {
    for row in x.chunks_exact_mut(row_len) {
        let sum: f64 = row.iter().map(|&v| (v * v) as f64).sum();
        let mean = (sum / row_len as f64) as f32;
        let scale = 1.0 / (mean + eps).sqrt();
        for (v, &w) in row.iter_mut().zip(weight) {
            *v = *v * scale * w;
        }
    }
}

/// `x += y`.
pub fn add_in_place(x: &mut [f32], y: &[f32]) {
    for (a, b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

/// `cos` and `sin` of each rotated pair's angle at `position`: `[n_rot / 2]` each.
/// The angle is `position * freq_scale * base^(-2i / n_rot)`, with the powers
/// formed by repeated multiplication in f32 as ggml's rope cache does.
pub fn rope_angles(position: usize, n_rot: usize, freq_base: f32, freq_scale: f32, cos: &mut [f32], sin: &mut [f32]) {
    let theta_scale = freq_base.powf(-2.0 / n_rot as f32);
    let mut theta = position as f32;
    for i in 0..n_rot / 2 {
        let angle = freq_scale * theta;
        cos[i] = angle.cos();
        sin[i] = angle.sin();
        theta *= theta_scale;
    }
}

fma_dispatch! {
/// Rotates the first `n_rot` dimensions of every `head_dim` head in `heads`.
pub fn rope_heads(heads: &mut [f32], head_dim: usize, kind: RopeKind, cos: &[f32], sin: &[f32]) {
    for head in heads.chunks_exact_mut(head_dim) {
        rope_head(head, kind, cos, sin);
    }
}
}

/// Rotates the first `n_rot` dimensions of one head in place.
#[inline(always)]
pub fn rope_head(head: &mut [f32], kind: RopeKind, cos: &[f32], sin: &[f32]) {
    let half = cos.len();
    for i in 0..half {
        let (a, b) = match kind {
            RopeKind::Normal => (2 * i, 2 * i + 1),
            RopeKind::Neox => (i, i + half),
        };
        let (x0, x1) = (head[a], head[b]);
        // With the multiply-adds fused where ggml's compiled C fuses them.
        head[a] = fmadd(x0, cos[i], -(x1 * sin[i]));
        head[b] = fmadd(x0, sin[i], x1 * cos[i]);
    }
}

/// In place over `x`, returning nothing: `x = softmax(x)` (max subtracted first).
pub fn softmax_in_place(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f64;
    for v in x.iter_mut() {
        *v = (*v - max).exp();
        sum += *v as f64;
    }
    let inv = (1.0 / sum) as f32;
    for v in x.iter_mut() {
        *v *= inv;
    }
}

/// `exp(x)` as ggml's vectorized `ggml_v_expf` computes it (ARM's optimized
/// routine: a degree-5 polynomial after range reduction, max error 1.5 ulp).
/// SiLU uses it in llama.cpp; using the same approximation keeps fuselm's
/// activations bit-equal to llama.cpp's rather than an ulp away, which matters
/// for greedy parity on models with large activations.
#[inline(always)]
pub fn ggml_expf(x: f32) -> f32 {
    let c = f32::from_bits;
    let r = c(0x4b40_0000); // 0x1.8p23: adding it rounds to an integer
    let z = fmadd(x, c(0x3fb8_aa3b), r); // x·log2(e) + r
    let n = z - r;
    let b = fmadd(-n, c(0x35bf_be8e), fmadd(-n, c(0x3f31_7200), x)); // x − n·ln2 (two parts)
    let u = b * b;
    let j = fmadd(
        fmadd(fmadd(c(0x3c07_2010), b, c(0x3d2b_9f17)), u, fmadd(c(0x3e2a_af33), b, c(0x3eff_fedb))),
        u,
        fmadd(c(0x3f7f_fff6), b, 1.0),
    );
    // j·2^n as `scalef` does, without branches so loops vectorize: one exact
    // power-of-two scale within the normal exponent range, a second one past
    // it (exact, except that a subnormal result may round twice; for SiLU's
    // 1 + exp(-x) that can never show).
    let ni = n as i32;
    let e1 = ni.clamp(-126, 127);
    let pow2 = |e: i32| f32::from_bits(((e + 127) as u32) << 23);
    let res = j * pow2(e1) * pow2((ni - e1).clamp(-126, 127));
    if n.abs() > 192.0 {
        if n <= 0.0 {
            0.0
        } else {
            f32::INFINITY
        }
    } else {
        res
    }
}

/// GELU with the tanh approximation, evaluated as ggml does on the CPU: the
/// input rounded to f16, the result rounded to f16 (ggml reads a 64K-entry
/// f16 table), identity above 10 and zero below -10.
#[inline(always)]
pub fn gelu_tanh(x: f32) -> f32 {
    if x <= -10.0 {
        return 0.0;
    }
    if x >= 10.0 {
        return x;
    }
    gelu_tanh_of_f16(round_to_f16(x))
}

/// The rounded GELU of a value that is already an f16.
fn gelu_tanh_of_f16(x: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    const COEF_A: f32 = 0.044715;
    // `1 + a·x·x` fused as ggml's compiled C fuses it.
    let y = 0.5 * x * (1.0 + (SQRT_2_OVER_PI * x * fmadd(COEF_A * x, x, 1.0)).tanh());
    round_to_f16(y)
}

/// [`gelu_tanh`] of every f16 value, by its bits, as ggml keeps it: the
/// GeGLU then costs a conversion and a load per value instead of a `tanh`.
/// Built once per process (65,536 `tanh`s, about a millisecond; 256 KiB).
pub fn gelu_table() -> &'static [f32] {
    static TABLE: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| (0..=u16::MAX).map(|bits| gelu_tanh_of_f16(half::f16::from_bits(bits).to_f32())).collect())
}

/// Values per parallel task of the element-wise activations: forking pays
/// only for a prompt's worth (decode's few thousand values stay on one thread).
const ACTIVATION_CHUNK: usize = 32 * 1024;

/// Runs `f` over matching chunks of `gate` and `up`, in parallel when large.
fn for_gate_chunks(gate: &mut [f32], up: &[f32], f: impl Fn(&mut [f32], &[f32]) + Sync + Send) {
    assert_eq!(gate.len(), up.len());
    crate::parallel::for_each_chunk(gate, ACTIVATION_CHUNK, |i, g| f(g, &up[i * ACTIVATION_CHUNK..][..g.len()]));
}

/// `silu(gate) * up`, into `gate`, with ggml's exp ([`ggml_expf`]).
pub fn swiglu_in_place(gate: &mut [f32], up: &[f32]) {
    for_gate_chunks(gate, up, swiglu_chunk);
}

fma_dispatch! {
pub fn swiglu_chunk(gate: &mut [f32], up: &[f32]) {
    for (g, &u) in gate.iter_mut().zip(up) {
        *g = *g / (1.0 + ggml_expf(0.0 - *g)) * u;
    }
}
}

/// `gelu_tanh(gate) * up`, into `gate`, through the table.
pub fn geglu_in_place(gate: &mut [f32], up: &[f32]) {
    let table = gelu_table();
    for_gate_chunks(gate, up, |gate, up| geglu_chunk(table, gate, up));
}

fma_dispatch! {
pub fn geglu_chunk(table: &[f32], gate: &mut [f32], up: &[f32]) {
    for (g, &u) in gate.iter_mut().zip(up) {
        let x = *g;
        let gelu = if x <= -10.0 {
            0.0
        } else if x >= 10.0 {
            x
        } else {
            table[half::f16::from_f32(x).to_bits() as usize]
        };
        *g = gelu * u;
    }
}
}

/// `cap * tanh(x / cap)` on every value.
pub fn softcap_in_place(x: &mut [f32], cap: f32) {
    for v in x.iter_mut() {
        *v = cap * (*v / cap).tanh();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_naive_sum_on_odd_lengths() {
        for n in [0, 1, 7, 8, 9, 33, 256] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let naive: f64 = a.iter().zip(&b).map(|(x, y)| (*x as f64) * (*y as f64)).sum();
            assert!((dot(&a, &b) as f64 - naive).abs() < 1e-4, "n={n}");
        }
    }

    #[test]
    fn ggml_ordered_dot_matches_naive_sum() {
        for n in [64, 128, 256, 80] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let naive: f64 = a.iter().zip(&b).map(|(x, y)| (*x as f64) * (*y as f64)).sum();
            assert!((dot_ggml_order(&a, &b) as f64 - naive).abs() < 1e-4, "n={n}");
        }
    }

    #[test]
    fn rms_norm_gives_unit_rms() {
        let x = [3.0f32, -4.0, 0.0, 5.0];
        let mut out = [0.0; 4];
        rms_norm(&x, &[1.0; 4], 0.0, &mut out);
        let rms = (out.iter().map(|v| v * v).sum::<f32>() / 4.0).sqrt();
        assert!((rms - 1.0).abs() < 1e-6);
        assert!((out[1] / out[0] - (-4.0 / 3.0)).abs() < 1e-6);
    }

    #[test]
    fn rope_at_position_zero_is_identity_and_preserves_norm_elsewhere() {
        let n_rot = 8;
        let (mut cos, mut sin) = (vec![0.0; 4], vec![0.0; 4]);
        for kind in [RopeKind::Normal, RopeKind::Neox] {
            rope_angles(0, n_rot, 10000.0, 1.0, &mut cos, &mut sin);
            let orig: Vec<f32> = (0..n_rot).map(|i| i as f32 - 3.5).collect();
            let mut head = orig.clone();
            rope_head(&mut head, kind, &cos, &sin);
            assert_eq!(head, orig);
            rope_angles(17, n_rot, 10000.0, 1.0, &mut cos, &mut sin);
            rope_head(&mut head, kind, &cos, &sin);
            assert_ne!(head, orig);
            let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>();
            assert!((norm(&head) - norm(&orig)).abs() < 1e-3);
        }
    }

    #[test]
    fn rope_pairs_adjacent_or_split_halves() {
        let (mut cos, mut sin) = (vec![0.0; 2], vec![0.0; 2]);
        rope_angles(1, 4, 10000.0, 1.0, &mut cos, &mut sin);
        // Only dimension 0 set: NORMAL moves it into 1, NEOX into 2.
        let mut normal = [1.0, 0.0, 0.0, 0.0];
        rope_head(&mut normal, RopeKind::Normal, &cos, &sin);
        assert!(normal[1] != 0.0 && normal[2] == 0.0);
        let mut neox = [1.0, 0.0, 0.0, 0.0];
        rope_head(&mut neox, RopeKind::Neox, &cos, &sin);
        assert!(neox[2] != 0.0 && neox[1] == 0.0);
    }

    #[test]
    fn softmax_sums_to_one_and_survives_large_values() {
        let mut x = [1000.0f32, 999.0, -1e30];
        softmax_in_place(&mut x);
        assert!((x.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(x[0] > x[1] && x[2] == 0.0);
    }

    #[test]
    fn f16_accumulation_helpers_round_like_round_to_f16() {
        // Hardware F16C where the CPU has it, the portable loop elsewhere:
        // both must equal the scalar formula bit for bit (NaN stays NaN).
        eprintln!("f16 rounding helpers: avx2/f16c path {}", crate::kernels::Isa::detect().has_avx2_fma());
        let mut bits = 0x1234_5677u32;
        let mut next = || {
            bits = bits.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            bits
        };
        let specials = [0.0f32, -0.0, 65504.0, 65519.0, 65520.0, 6.1e-5, 3e-8, f32::INFINITY, f32::NAN, 1e30];
        for len in [1usize, 7, 8, 9, 64, 77, 128] {
            for round in 0..200 {
                let x: Vec<f32> = (0..len)
                    .map(|i| if round == 0 { specials[i % specials.len()] } else { f32::from_bits(next()) })
                    .map(|v| if round % 2 == 1 { v } else { (v.to_bits() % 100_000) as f32 * 1e-3 - 50.0 })
                    .collect();
                let acc0: Vec<f32> = (0..len).map(|i| round_to_f16((i as f32 * 0.37).sin() * 40.0)).collect();
                let w = f32::from_bits(next() % 0x4000_0000);
                let same = |a: f32, b: f32| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
                let mut acc = acc0.clone();
                mad_round_f16(&mut acc, &x, w);
                for i in 0..len {
                    let want = round_to_f16(fmadd(x[i], w, acc0[i]));
                    assert!(same(acc[i], want), "mad len {len} [{i}]: {} vs {want}", acc[i]);
                }
                let mut acc = x.clone();
                scale_round_f16(&mut acc, w);
                for i in 0..len {
                    let want = round_to_f16(x[i] * w);
                    assert!(same(acc[i], want), "scale len {len} [{i}]: {} vs {want}", acc[i]);
                }
            }
        }
    }

    #[test]
    fn round_to_f16_equals_the_half_crate_everywhere() {
        use half::f16;
        let mut bits = 0x9E37_79B9u32;
        let specials =
            [0.0f32, -0.0, 65504.0, 65519.0, 65520.0, -65520.0, 6.1e-5, 6.2e-5, 1e-8, 3e-8, f32::INFINITY, 1e30];
        for i in 0..2_000_000u32 {
            bits = bits.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let x = if (i as usize) < specials.len() { specials[i as usize] } else { f32::from_bits(bits) };
            if x.is_nan() {
                continue;
            }
            let want = f16::from_f32(x).to_f32();
            assert_eq!(round_to_f16(x).to_bits(), want.to_bits(), "x={x:e} ({:#x})", x.to_bits());
        }
    }

    #[test]
    fn ggml_expf_is_within_two_ulp_of_exp_and_saturates() {
        for i in -2000..2000 {
            let x = i as f32 * 0.04;
            let (a, b) = (ggml_expf(x), x.exp());
            assert!(((a - b) / b).abs() < 2.5e-7, "x={x}: {a} vs {b}");
        }
        assert_eq!(ggml_expf(-200.0), 0.0);
        assert_eq!(ggml_expf(200.0), f32::INFINITY);
        assert_eq!(ggml_expf(0.0), 1.0);
    }

    #[test]
    fn the_gelu_table_gives_gelu_tanh_of_every_value() {
        // Every f16 value, its neighbours in f32 (rounding up, down, ties),
        // the clamps, NaN and infinities; past ACTIVATION_CHUNK so the
        // parallel chunks run too.
        let mut x = Vec::new();
        for bits in 0..=u16::MAX {
            let v = half::f16::from_bits(bits).to_f32();
            let b = v.to_bits();
            x.extend([v, f32::from_bits(b.wrapping_add(0x1000)), f32::from_bits(b.wrapping_sub(0x1000))]);
        }
        x.extend([-10.0, 10.0, -9.999, 9.999, -10.001, 10.001, f32::INFINITY, f32::NEG_INFINITY, f32::NAN]);
        let up: Vec<f32> = (0..x.len()).map(|i| ((i % 97) as f32 - 48.0) * 0.0625).collect();
        let mut gate = x.clone();
        geglu_in_place(&mut gate, &up);
        for i in 0..x.len() {
            let want = gelu_tanh(x[i]) * up[i];
            let same = gate[i].to_bits() == want.to_bits() || (gate[i].is_nan() && want.is_nan());
            assert!(same, "x = {:e} ({:#x}): {} vs {want}", x[i], x[i].to_bits(), gate[i]);
        }
    }

    #[test]
    fn gelu_matches_reference_points_and_clamps() {
        assert_eq!(gelu_tanh(-20.0), 0.0);
        assert_eq!(gelu_tanh(12.5), 12.5);
        assert_eq!(gelu_tanh(0.0), 0.0);
        // gelu(1) = 0.8412 (tanh form), within f16 rounding.
        assert!((gelu_tanh(1.0) - 0.8412).abs() < 1e-3);
        assert!((gelu_tanh(-1.0) + 0.1588).abs() < 1e-3);
    }
}
