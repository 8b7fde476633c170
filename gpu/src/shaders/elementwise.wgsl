// Element-wise operations over `n` values of `a` (one shared layout:
// a read-write, b read, c read, parameters). Dispatch: (ceil(n / 256), 1, 1),
// or (65535, ceil(n / (256 * 65535)), 1) past that.

struct ElementParams {
    n: u32,
    m: u32,   // add_bias: the bias length
    s: f32,   // scale: the factor; softcap: the cap
    _pad: u32,
}

@group(0) @binding(0) var<storage, read_write> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> c: array<f32>;
@group(0) @binding(3) var<uniform> p: ElementParams;

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 256u;
}

// a += b
@compute @workgroup_size(256)
fn add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i < p.n) {
        a[i] += b[i];
    }
}

// a[t, j] += b[j] for rows of m
@compute @workgroup_size(256)
fn add_bias(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i < p.n) {
        a[i] += b[i % p.m];
    }
}

// a *= s
@compute @workgroup_size(256)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i < p.n) {
        a[i] *= p.s;
    }
}

// a = s * tanh(a / s)
@compute @workgroup_size(256)
fn softcap(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i < p.n) {
        a[i] = p.s * tanh(a[i] / p.s);
    }
}

// a = silu(a) * b, as ops::swiglu_chunk
@compute @workgroup_size(256)
fn swiglu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i < p.n) {
        let g = a[i];
        a[i] = g / (1.0 + exp(0.0 - g)) * b[i];
    }
}

// a = gelu_tanh(a) * b through ggml's table c (indexed by the f16 bits of a),
// as ops::geglu_chunk: the same values as the CPU's.
@compute @workgroup_size(256)
fn geglu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i < p.n) {
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
