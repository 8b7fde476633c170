//! The GPU forward pass's other kernels (norms, element-wise operations,
//! RoPE, the KV store and attention) against fuselm-core's CPU operations,
//! within float reordering (1e-5 relative); the adapter is printed.

use fuselm_core::model::{ops, RopeKind};
use fuselm_gpu::dispatch::NormRows;
use fuselm_gpu::{buffers, dispatch, Dispatch, Gpu, Kernels};

fn gpu() -> (Gpu, Kernels) {
    let gpu = Gpu::new_blocking().expect("a GPU adapter (scripts/setup installs lavapipe)");
    eprintln!("adapter: {}", gpu.describe());
    let kernels = Kernels::new(&gpu).expect("kernels compile");
    (gpu, kernels)
}

fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n).map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed) % 2000) as f32 / 500.0 - 2.0).collect()
}

fn upload(gpu: &Gpu, v: &[f32]) -> wgpu::Buffer {
    buffers::storage_init(gpu, "test", bytemuck::cast_slice(v))
}

fn run(gpu: &Gpu, dispatches: &[Dispatch], n_tok: u32) {
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        dispatch::encode_all(dispatches, &mut pass, n_tok);
    }
    gpu.queue.submit([encoder.finish()]);
}

fn assert_close(gpu: &[f32], cpu: &[f32], what: &str) {
    assert_eq!(gpu.len(), cpu.len(), "{what}");
    for (i, (g, c)) in gpu.iter().zip(cpu).enumerate() {
        assert!((g - c).abs() <= 1e-5 * c.abs().max(1.0), "{what} [{i}]: gpu {g} cpu {c}");
    }
}

#[test]
fn norms_and_element_wise_operations_match_the_cpu() {
    let (gpu, k) = gpu();
    let (n, n_tok) = (576, 3);
    let x = values(n * n_tok, 1);
    let w = values(n, 2);
    let (xb, wb) = (upload(&gpu, &x), upload(&gpu, &w));
    let out = buffers::storage(&gpu, "out", (n * n_tok * 4) as u64);
    run(&gpu, &[dispatch::rms_norm(&gpu, &k, &xb, &wb, &out, NormRows { n, rows: 1, eps: 1e-5 })], n_tok as u32);
    let mut cpu = vec![0.0; n * n_tok];
    for (src, dst) in x.chunks_exact(n).zip(cpu.chunks_exact_mut(n)) {
        ops::rms_norm(src, &w, 1e-5, dst);
    }
    assert_close(&buffers::read_f32(&gpu, &out, 0, n * n_tok).unwrap(), &cpu, "rms_norm");

    // Per-head norms in place: rows of 64, 9 per token.
    let head = values(64, 3);
    let hb = upload(&gpu, &head);
    let q = values(9 * 64 * n_tok, 4);
    let qb = upload(&gpu, &q);
    run(&gpu, &[dispatch::rms_norm_in_place(&gpu, &k, &qb, &hb, NormRows { n: 64, rows: 9, eps: 1e-6 })], n_tok as u32);
    let mut cpu = q.clone();
    ops::rms_norm_rows_in_place(&mut cpu, 64, &head, 1e-6);
    assert_close(&buffers::read_f32(&gpu, &qb, 0, q.len()).unwrap(), &cpu, "rms_norm in place");

    let e = &k.elementwise;
    let dummy = buffers::storage(&gpu, "dummy", 4);
    let table = upload(&gpu, ops::gelu_table());
    let up = values(n * n_tok, 5);
    let upb = upload(&gpu, &up);
    let bias = values(n, 6);
    let bb = upload(&gpu, &bias);
    let cases: [(&str, &wgpu::ComputePipeline, &wgpu::Buffer, &wgpu::Buffer, f32); 6] = [
        ("add", &e.add, &upb, &dummy, 0.0),
        ("add_bias", &e.add_bias, &bb, &dummy, 0.0),
        ("scale", &e.scale, &dummy, &dummy, 0.125),
        ("softcap", &e.softcap, &dummy, &dummy, 1.5),
        ("swiglu", &e.swiglu, &upb, &dummy, 0.0),
        ("geglu", &e.geglu, &upb, &table, 0.0),
    ];
    for (name, pipeline, b, c, s) in cases {
        let ab = upload(&gpu, &x);
        run(&gpu, &[dispatch::elementwise(&gpu, pipeline, ab.as_entire_buffer_binding(), b, c, n, s)], n_tok as u32);
        let mut cpu = x.clone();
        match name {
            "add" => ops::add_in_place(&mut cpu, &up),
            "add_bias" => cpu.chunks_exact_mut(n).for_each(|r| ops::add_in_place(r, &bias)),
            "scale" => cpu.iter_mut().for_each(|v| *v *= s),
            "softcap" => ops::softcap_in_place(&mut cpu, s),
            "swiglu" => ops::swiglu_in_place(&mut cpu, &up),
            _ => ops::geglu_in_place(&mut cpu, &up),
        }
        assert_close(&buffers::read_f32(&gpu, &ab, 0, x.len()).unwrap(), &cpu, name);
    }
}

#[test]
fn rope_matches_the_cpu() {
    let (gpu, k) = gpu();
    let (heads, head_dim, n_tok) = (5, 64, 4);
    for (kind, n_rot) in [(RopeKind::Normal, 64), (RopeKind::Neox, 64), (RopeKind::Neox, 32)] {
        let half = n_rot / 2;
        let x = values(heads * head_dim * n_tok, 7);
        let (mut cos, mut sin) = (vec![0.0; n_tok * half], vec![0.0; n_tok * half]);
        for t in 0..n_tok {
            ops::rope_angles(40 + t, n_rot, 10000.0, 1.0, &mut cos[t * half..][..half], &mut sin[t * half..][..half]);
        }
        let (xb, cb, sb) = (upload(&gpu, &x), upload(&gpu, &cos), upload(&gpu, &sin));
        let neox = u32::from(kind == RopeKind::Neox);
        let params = buffers::uniform(&gpu, "rope", &[heads as u32, head_dim as u32, half as u32, neox]);
        let groups = (heads * half).div_ceil(64) as u32;
        run(&gpu, &[Dispatch::new(&gpu, &k.rope, &[&xb, &cb, &sb, &params], [groups, 1, 1], 1)], n_tok as u32);
        let mut cpu = x.clone();
        for t in 0..n_tok {
            let row = &mut cpu[t * heads * head_dim..(t + 1) * heads * head_dim];
            ops::rope_heads(row, head_dim, kind, &cos[t * half..][..half], &sin[t * half..][..half]);
        }
        assert_close(&buffers::read_f32(&gpu, &xb, 0, x.len()).unwrap(), &cpu, &format!("rope {kind:?} n_rot {n_rot}"));
    }
}

/// The reference: causal softmax attention over f16-rounded keys and values.
#[allow(clippy::too_many_arguments)]
fn attention_reference(
    q: &[f32],
    keys: &[f32],
    vals: &[f32],
    n_head: usize,
    n_head_kv: usize,
    hd: usize,
    pos0: usize,
    n_tok: usize,
    window: usize,
    scale: f32,
) -> Vec<f32> {
    let kv_dim = n_head_kv * hd;
    let mut out = vec![0.0f32; n_tok * n_head * hd];
    for t in 0..n_tok {
        let pos = pos0 + t;
        let first = if window > 0 { (pos + 1).saturating_sub(window) } else { 0 };
        for h in 0..n_head {
            let kvh = h / (n_head / n_head_kv);
            let qh = &q[(t * n_head + h) * hd..][..hd];
            let scores: Vec<f64> = (first..=pos)
                .map(|j| {
                    let kj = &keys[j * kv_dim + kvh * hd..][..hd];
                    qh.iter().zip(kj).map(|(a, b)| (*a as f64) * ops::round_to_f16(*b) as f64).sum::<f64>()
                        * scale as f64
                })
                .collect();
            let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let exps: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
            let sum: f64 = exps.iter().sum();
            for d in 0..hd {
                let v: f64 = (first..=pos)
                    .zip(&exps)
                    .map(|(j, e)| e * ops::round_to_f16(vals[j * kv_dim + kvh * hd + d]) as f64)
                    .sum();
                out[(t * n_head + h) * hd + d] = (v / sum) as f32;
            }
        }
    }
    out
}

#[test]
fn kv_store_and_attention_match_a_reference() {
    let (gpu, k) = gpu();
    // GQA 4:2, head 64; then MHA with a window; then 300 keys (two chunks of 256).
    for (n_head, n_head_kv, hd, pos0, n_tok, window) in
        [(4, 2, 64, 0, 5, 0), (3, 3, 32, 7, 3, 4), (2, 1, 128, 290, 10, 0), (2, 2, 256, 0, 2, 0)]
    {
        let kv_dim = n_head_kv * hd;
        let n_ctx = pos0 + n_tok;
        // Earlier positions come from one batch stored first, then this one.
        let keys = values(n_ctx * kv_dim, 8);
        let vals = values(n_ctx * kv_dim, 9);
        let q = values(n_tok * n_head * hd, 10);
        let k_cache = buffers::storage(&gpu, "k cache", (n_ctx * kv_dim * 2) as u64);
        let v_cache = buffers::storage(&gpu, "v cache", (n_ctx * kv_dim * 2) as u64);
        let kv_params = buffers::uniform(&gpu, "kv", &[kv_dim as u32, kv_dim as u32]);
        let groups = (kv_dim / 2).div_ceil(64) as u32;
        let scale = 1.0 / (hd as f32).sqrt();
        let att_params = buffers::uniform(
            &gpu,
            "attention",
            &[n_head as u32, n_head_kv as u32, hd as u32, hd as u32, window as u32, scale.to_bits()],
        );
        let qb = upload(&gpu, &q);
        let out = buffers::storage(&gpu, "out", (n_tok * n_head * hd * 4) as u64);
        for (start, count, attend) in [(0, pos0, false), (pos0, n_tok, true)] {
            if count == 0 {
                continue;
            }
            let step = buffers::uniform(&gpu, "step", &[start as u32, count as u32]);
            let kb = upload(&gpu, &keys[start * kv_dim..(start + count) * kv_dim]);
            let vb = upload(&gpu, &vals[start * kv_dim..(start + count) * kv_dim]);
            let mut d = vec![Dispatch::new(
                &gpu,
                &k.kv_store,
                &[&kb, &vb, &k_cache, &v_cache, &kv_params, &step],
                [groups, 1, 1],
                1,
            )];
            if attend {
                let bufs = [&qb, &k_cache, &v_cache, &out, &att_params, &step];
                d.push(Dispatch::new(&gpu, &k.attention, &bufs, [n_head as u32, 1, 1], 1));
            }
            run(&gpu, &d, count as u32);
        }
        let cpu = attention_reference(&q, &keys, &vals, n_head, n_head_kv, hd, pos0, n_tok, window, scale);
        let what = format!("attention heads {n_head}/{n_head_kv} dim {hd} at {pos0} window {window}");
        assert_close(&buffers::read_f32(&gpu, &out, 0, cpu.len()).unwrap(), &cpu, &what);
    }
}
