// Element-wise operations over rows of `n` values of `a`, one row per token
// (one shared layout: a read-write, b read, c read, parameters).
// Dispatch: (ceil(n / 256), n_tok, 1).

struct ElementParams {
    n: u32,   // values per row
    s: f32,   // scale: the factor; softcap: the cap
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read_write> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> c: array<f32>;
@group(0) @binding(3) var<uniform> p: ElementParams;

fn index(gid: vec3<u32>) -> u32 {
    return gid.y * p.n + gid.x;
}

// a += b
@compute @workgroup_size(256)
fn add(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = index(gid);
    if (gid.x < p.n) {
        a[i] += b[i];
    }
}

// a[t, j] += b[j]
@compute @workgroup_size(256)
fn add_bias(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = index(gid);
    if (gid.x < p.n) {
        a[i] += b[gid.x];
    }
}

// a *= s
@compute @workgroup_size(256)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = index(gid);
    if (gid.x < p.n) {
        a[i] *= p.s;
    }
}

// a = s * tanh(a / s)
@compute @workgroup_size(256)
fn softcap(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = index(gid);
    if (gid.x < p.n) {
        a[i] = p.s * tanh(a[i] / p.s);
    }
}

// a = silu(a) * b, as ops::swiglu_chunk
@compute @workgroup_size(256)
fn swiglu(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = index(gid);
    if (gid.x < p.n) {
        let g = a[i];
        a[i] = g / (1.0 + exp(0.0 - g)) * b[i];
    }
}

// a = gelu_tanh(a) * b through ggml's table c (indexed by the f16 bits of a),
// as ops::geglu_chunk: the same values as the CPU's.
@compute @workgroup_size(256)
fn geglu(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = index(gid);
    if (gid.x < p.n) {
        let x = a[i];
        var gelu = x;
        if (x <= -10.0) {
            gelu = 0.0;
        } else if (x < 10.0) {
            gelu = c[f32_to_f16_bits(x)];
        }
        a[i] = gelu * b[i];
    }
}
