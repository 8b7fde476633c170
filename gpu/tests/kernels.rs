//! Every GPU kernel against fuselm-core's scalar reference, on whatever
//! adapter wgpu finds (lavapipe in CI; the test prints which):
//! - the activation quantizers bit for bit;
//! - each format's matrix-vector product exactly where every float in it is
//!   an integer (scales of 1, activations that quantize to themselves), which
//!   isolates the integer block sums;
//! - and within 1e-5 of Σ|w·x| on quantized random weights, where only the
//!   order of float additions differs.
//!
//! Shapes leave partial workgroups (rows not a multiple of 8) and run
//! several tokens; the matrices of the exact test are also split into parts
//! of a few rows, as one larger than a binding is.

use fuselm_core::kernels::{Activations, Isa, KernelMode, WeightMatrix};
use fuselm_core::quant::{self, BlockQ8K, BlockQ8_0, BlockQ8_1};
use fuselm_core::GgmlType;
use fuselm_gpu::{buffers, dispatch, GpuAct, GpuMatrix, Kernels, FORMATS};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn uniform(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
    fn int(&mut self, n: u64) -> i64 {
        (self.next() % n) as i64
    }
}

fn gpu() -> (fuselm_gpu::Gpu, Kernels) {
    let gpu = fuselm_gpu::Gpu::new_blocking().expect("a GPU adapter (scripts/setup installs lavapipe)");
    eprintln!("adapter: {}", gpu.describe());
    let kernels = Kernels::new(&gpu).expect("kernels compile");
    (gpu, kernels)
}

/// The CPU's quantized activations in the GPU's word layout (act_blocks.wgsl).
fn cpu_act_words(acts: &Activations, format: GpuAct) -> Vec<u32> {
    let pack = |qs: &[i8]| -> Vec<u32> {
        qs.chunks_exact(4).map(|c| u32::from_le_bytes([c[0] as u8, c[1] as u8, c[2] as u8, c[3] as u8])).collect()
    };
    let mut words = Vec::new();
    match format {
        GpuAct::Q8K => {
            for b in &acts.q8k {
                let b: &BlockQ8K = b;
                words.push(b.d.to_bits());
                words.extend(pack(&b.qs));
                words.extend(b.bsums.iter().map(|&s| s as i32 as u32));
            }
        }
        GpuAct::Q8_0 => {
            for b in &acts.q8_0 {
                let b: &BlockQ8_0 = b;
                words.push(b.d.to_f32().to_bits());
                words.extend(pack(&b.qs));
            }
        }
        GpuAct::Q8_1 => {
            for b in &acts.q8_1 {
                let b: &BlockQ8_1 = b;
                words.push(b.d.to_f32().to_bits());
                words.push(b.s.to_f32().to_bits());
                words.extend(pack(&b.qs));
            }
        }
    }
    words
}

fn assert_words_equal(gpu: &[u32], cpu: &[u32], ty: GgmlType) {
    assert_eq!(gpu.len(), cpu.len(), "{ty}: activation words");
    if let Some(i) = (0..gpu.len()).find(|&i| gpu[i] != cpu[i]) {
        panic!("{ty}: quantized activations differ first at word {i}: gpu {:#010x} cpu {:#010x}", gpu[i], cpu[i]);
    }
}

/// Runs quantize + matvec on the GPU for `x` ([n_tok, n_in]); returns the
/// GPU's activation words and outputs.
fn run_gpu(gpu: &fuselm_gpu::Gpu, kernels: &Kernels, m: &GpuMatrix, x: &[f32], n_tok: usize) -> (Vec<u32>, Vec<f32>) {
    let src = buffers::storage_init(gpu, "x", bytemuck::cast_slice(x));
    let stride = m.act.row_words(m.n_in);
    let act = buffers::storage(gpu, "act", (n_tok * stride * 4) as u64);
    let y = buffers::storage(gpu, "y", (n_tok * m.n_out * 4) as u64);
    let quantize = dispatch::quantize(gpu, kernels, m.act, m.n_in, &src, &act);
    let matvec = m.dispatches(gpu, kernels, &act, 0, stride, y.as_entire_buffer_binding());
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        quantize.encode(&mut pass, n_tok as u32);
        dispatch::encode_all(&matvec, &mut pass, n_tok as u32);
    }
    gpu.queue.submit([encoder.finish()]);
    let words = buffers::read_u32(gpu, &act, 0, n_tok * stride).unwrap();
    let out = buffers::read_f32(gpu, &y, 0, n_tok * m.n_out).unwrap();
    (words, out)
}

fn cpu_product(ty: GgmlType, n_in: usize, n_out: usize, data: &[u8], x: &[f32]) -> (Activations, Vec<f32>) {
    let w = WeightMatrix::from_raw("w", ty, n_in, n_out, data, KernelMode::Scalar, Isa::Scalar).unwrap();
    let n_tok = x.len() / n_in;
    let mut acts = Activations::default();
    let mut out = vec![0.0; n_tok * n_out];
    w.matmul(x, &mut acts, &mut out);
    (acts, out)
}

/// Random blocks whose f16 scales are 1.0 (as are Q8_1's sums' scale).
fn unit_scale_blocks(ty: GgmlType, n_in: usize, n_out: usize, rng: &mut Rng) -> Vec<u8> {
    let row_bytes = ty.row_bytes(n_in as u64).unwrap() as usize;
    let block_bytes = ty.block_bytes();
    let mut data: Vec<u8> = (0..row_bytes * n_out).map(|_| rng.next() as u8).collect();
    for block in data.chunks_exact_mut(block_bytes) {
        for &off in quant::f16_field_offsets(ty) {
            block[off..off + 2].copy_from_slice(&0x3c00u16.to_le_bytes());
        }
        if ty == GgmlType::Q6_K {
            // Scales within ±8 keep every block's integer sum below 2^24.
            for s in &mut block[192..208] {
                *s = (rng.int(17) - 8) as i8 as u8;
            }
        }
    }
    data
}

#[test]
fn integer_sums_and_quantizers_equal_the_cpu_exactly() {
    let (gpu, kernels) = gpu();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for f in FORMATS {
        let values = f.act.block_values();
        for (n_in, n_out, n_tok) in [(values * 3, 37, 3), (values * 8, 8, 1)] {
            let data = unit_scale_blocks(f.ggml_type, n_in, n_out, &mut rng);
            // Activations that quantize to themselves: integers, and ±127 in every block.
            let mut x: Vec<f32> = (0..n_tok * n_in).map(|_| rng.int(17) as f32 - 8.0).collect();
            for block in x.chunks_exact_mut(values) {
                let i = rng.int(values as u64) as usize;
                block[i] = if rng.next() & 1 == 0 { 127.0 } else { -127.0 };
            }
            let (acts, cpu_out) = cpu_product(f.ggml_type, n_in, n_out, &data, &x);
            let row_bytes = data.len() / n_out;
            for part_rows in [n_out, 3] {
                let m = GpuMatrix::upload_in_parts(
                    &gpu,
                    "w",
                    f.ggml_type,
                    n_in,
                    n_out,
                    &data,
                    (part_rows * row_bytes) as u64,
                )
                .unwrap();
                assert_eq!(m.parts.len(), n_out.div_ceil(part_rows));
                let (gpu_words, gpu_out) = run_gpu(&gpu, &kernels, &m, &x, n_tok);
                assert_words_equal(&gpu_words, &cpu_act_words(&acts, f.act), f.ggml_type);
                for (i, (g, c)) in gpu_out.iter().zip(&cpu_out).enumerate() {
                    assert_eq!(
                        g.to_bits(),
                        c.to_bits(),
                        "{} [{n_out}x{n_in}] in {} parts, output {i}: gpu {g} cpu {c}",
                        f.ggml_type,
                        m.parts.len()
                    );
                }
            }
        }
    }
}

#[test]
fn products_match_the_cpu_within_float_reordering() {
    let (gpu, kernels) = gpu();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for f in FORMATS {
        let values = f.act.block_values();
        let (n_in, n_out, n_tok) = (values * 5, 45, 4);
        let w: Vec<f32> = (0..n_in * n_out).map(|_| rng.uniform()).collect();
        let mut data = Vec::new();
        for row in w.chunks_exact(n_in) {
            quant::quantize_row(f.ggml_type, row, &mut data).unwrap();
        }
        // Activations at the scale of a normed hidden state, with an outlier.
        let mut x: Vec<f32> = (0..n_tok * n_in).map(|_| rng.uniform() * 3.0).collect();
        x[7] = 41.0;
        let m = GpuMatrix::upload(&gpu, "w", f.ggml_type, n_in, n_out, &data).unwrap();
        let (gpu_words, gpu_out) = run_gpu(&gpu, &kernels, &m, &x, n_tok);
        let (acts, cpu_out) = cpu_product(f.ggml_type, n_in, n_out, &data, &x);
        assert_words_equal(&gpu_words, &cpu_act_words(&acts, f.act), f.ggml_type);
        let mut row = vec![0.0; n_in];
        for t in 0..n_tok {
            for r in 0..n_out {
                quant::dequantize_row(f.ggml_type, &data[r * m.row_bytes..(r + 1) * m.row_bytes], &mut row).unwrap();
                let scale: f32 = row.iter().zip(&x[t * n_in..(t + 1) * n_in]).map(|(a, b)| (a * b).abs()).sum();
                let (g, c) = (gpu_out[t * n_out + r], cpu_out[t * n_out + r]);
                assert!(
                    (g - c).abs() <= 1e-5 * scale,
                    "{} token {t} row {r}: gpu {g} cpu {c} (scale {scale})",
                    f.ggml_type
                );
            }
        }
    }
}
