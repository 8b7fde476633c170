// RoPE over the heads of x ([n_tok, n_heads * head_dim]) with the angles the
// CPU computed for this batch's positions (cos/sin: [n_tok, half]), as
// ops::rope_head: pairs (2i, 2i+1) (normal) or (i, i + half) (NeoX), rotated
// with the same fused multiply-adds. Dispatch: (ceil(n_heads * half / 64), n_tok, 1).

struct RopeParams {
    n_heads: u32,
    head_dim: u32,
    half: u32,
    neox: u32,
}

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> rope_cos: array<f32>;
@group(0) @binding(2) var<storage, read> rope_sin: array<f32>;
@group(0) @binding(3) var<uniform> p: RopeParams;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let tok = gid.y;
    if (gid.x >= p.n_heads * p.half) {
        return;
    }
    let head = gid.x / p.half;
    let i = gid.x % p.half;
    let base = (tok * p.n_heads + head) * p.head_dim;
    var ia = base + 2u * i;
    var ib = ia + 1u;
    if (p.neox != 0u) {
        ia = base + i;
        ib = base + i + p.half;
    }
    let c = rope_cos[tok * p.half + i];
    let s = rope_sin[tok * p.half + i];
    let x0 = x[ia];
    let x1 = x[ib];
    x[ia] = fma(x0, c, -(x1 * s));
    x[ib] = fma(x0, s, x1 * c);
}
