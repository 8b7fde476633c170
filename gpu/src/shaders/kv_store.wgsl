// Stores this batch's keys and values ([n_tok, k_dim], [n_tok, v_dim]) at
// positions pos0.. of one layer's caches, as f16 pairs rounded as the CPU's
// f16 cache rounds them. Dispatch: (ceil(max(k_dim, v_dim) / 2 / 64), n_tok, 1).

struct KvParams {
    k_dim: u32,
    v_dim: u32,
    _pad0: u32,
    _pad1: u32,
}

struct Step {
    pos0: u32,   // the batch's first position
    n_tok: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> k: array<f32>;
@group(0) @binding(1) var<storage, read> v: array<f32>;
@group(0) @binding(2) var<storage, read_write> k_cache: array<u32>; // [n_ctx, k_dim / 2]
@group(0) @binding(3) var<storage, read_write> v_cache: array<u32>; // [n_ctx, v_dim / 2]
@group(0) @binding(4) var<uniform> p: KvParams;
@group(0) @binding(5) var<uniform> step: Step;

fn pair(x0: f32, x1: f32) -> u32 {
    return f32_to_f16_bits(x0) | (f32_to_f16_bits(x1) << 16u);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    let tok = gid.y;
    let pos = step.pos0 + tok;
    if (2u * j < p.k_dim) {
        k_cache[pos * p.k_dim / 2u + j] = pair(k[tok * p.k_dim + 2u * j], k[tok * p.k_dim + 2u * j + 1u]);
    }
    if (2u * j < p.v_dim) {
        v_cache[pos * p.v_dim / 2u + j] = pair(v[tok * p.v_dim + 2u * j], v[tok * p.v_dim + 2u * j + 1u]);
    }
}
