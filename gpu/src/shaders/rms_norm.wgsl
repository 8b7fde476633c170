// RMSNorm of rows: dst[r] = src[r] / sqrt(mean(src[r]^2) + eps) * weight,
// fuselm-core's ops::rms_norm (which sums the squares in f64; here an f32
// tree, so results differ in the last bits). A workgroup per row; rows of
// `n` values; the weight is `n` long. With IN_PLACE, `dst` is also the source.
// Dispatch: (n_rows, 1, 1).

struct NormParams {
    n: u32,
    eps: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read_write> dst: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<uniform> p: NormParams;

var<workgroup> sums: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let base = wid.x * p.n;
    var s = 0.0;
    for (var i = lid; i < p.n; i += 256u) {
        let v = load(base + i);
        s += v * v;
    }
    sums[lid] = s;
    workgroupBarrier();
    for (var k = 128u; k > 0u; k >>= 1u) {
        if (lid < k) {
            sums[lid] += sums[lid + k];
        }
        workgroupBarrier();
    }
    let scale = 1.0 / sqrt(sums[0] / f32(p.n) + p.eps);
    for (var i = lid; i < p.n; i += 256u) {
        dst[base + i] = load(base + i) * scale * weight[i];
    }
}
