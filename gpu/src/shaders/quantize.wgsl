// Activation rows (f32, [n_tok, n]) to the activation blocks of act_blocks.wgsl,
// bit-identical to fuselm-core's activation quantizers: Q8_K as
// `quantize_row_q8_K_ref` (scale -127 / the signed value of largest
// magnitude, the first one on ties), Q8_0/Q8_1 as ggml-cpu's x86 quantizer
// (127 / amax, ties to even).
// Dispatch: quantize_q8k (n / 256, n_tok); quantize_q8_0/q8_1 (ceil(n / 256), n_tok).

struct QuantizeParams {
    n: u32,          // values per row
    act_stride: u32, // words per activation row
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> act: array<u32>;
@group(0) @binding(2) var<uniform> p: QuantizeParams;

// a / b correctly rounded, as the CPU divides: WGSL allows its division
// 2.5 ULP of error and SwiftShader's is off in the last bit at times, which
// would move a block's scale. Long division of the 24-bit significands with
// integer operations; operands or a result outside the normal range (never a
// quantizer's) fall back to the driver's division.
fn div(a: f32, b: f32) -> f32 {
    let ba = bitcast<u32>(a);
    let bb = bitcast<u32>(b);
    let ea = i32((ba >> 23u) & 0xffu);
    let eb = i32((bb >> 23u) & 0xffu);
    if (ea == 0 || ea == 255 || eb == 0 || eb == 255) {
        return a / b;
    }
    var ma = (ba & 0x7fffffu) | 0x800000u;
    let mb = (bb & 0x7fffffu) | 0x800000u;
    var e = ea - eb + 127;
    if (ma < mb) {
        ma <<= 1u;
        e -= 1;
    }
    // ma / mb is in [1, 2): 24 quotient bits, then the remainder decides the rounding.
    var q = 0u;
    var r = ma;
    for (var i = 0u; i < 24u; i++) {
        q <<= 1u;
        if (r >= mb) {
            r -= mb;
            q |= 1u;
        }
        r <<= 1u;
    }
    if (r > mb || (r == mb && (q & 1u) == 1u)) {
        q += 1u;
        if (q == 0x1000000u) {
            q >>= 1u;
            e += 1;
        }
    }
    if (e <= 0 || e >= 255) {
        return a / b;
    }
    return bitcast<f32>(((ba ^ bb) & 0x80000000u) | (u32(e) << 23u) | (q & 0x7fffffu));
}

var<workgroup> vals: array<f32, 256>;
var<workgroup> amax_v: array<f32, 256>;
var<workgroup> amax_i: array<u32, 256>;
var<workgroup> quants: array<i32, 256>;

fn pack4(i: u32) -> u32 {
    return (u32(quants[i]) & 0xffu) | ((u32(quants[i + 1u]) & 0xffu) << 8u) | ((u32(quants[i + 2u]) & 0xffu) << 16u)
        | ((u32(quants[i + 3u]) & 0xffu) << 24u);
}

@compute @workgroup_size(256)
fn quantize_q8k(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let blk = wid.x;
    let tok = wid.y;
    let v = src[tok * p.n + blk * 256u + lid];
    vals[lid] = v;
    amax_v[lid] = abs(v);
    amax_i[lid] = lid;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (lid < s) {
            let a = amax_v[lid];
            let b = amax_v[lid + s];
            if (b > a || (b == a && amax_i[lid + s] < amax_i[lid])) {
                amax_v[lid] = b;
                amax_i[lid] = amax_i[lid + s];
            }
        }
        workgroupBarrier();
    }
    let amax = amax_v[0];
    let max = vals[amax_i[0]];
    var d = 0.0;
    var q = 0;
    if (amax != 0.0) {
        let iscale = div(-127.0, max);
        q = min(i32(round(iscale * v)), 127);
        d = div(1.0, iscale);
    }
    quants[lid] = q;
    workgroupBarrier();
    let base = tok * p.act_stride + blk * Q8K_WORDS;
    if (lid < 64u) {
        act[base + 1u + lid] = pack4(4u * lid);
    }
    if (lid < 16u) {
        var sum = 0;
        for (var k = 0u; k < 16u; k++) {
            sum += quants[16u * lid + k];
        }
        act[base + 65u + lid] = bitcast<u32>(sum);
    }
    if (lid == 0u) {
        act[base] = bitcast<u32>(d);
    }
}

// The 32-value blocks: eight per workgroup, a value per invocation. Returns
// the block's sum of quants (for Q8_1) to lane 0 of the block; quants[] holds them.
fn quantize_32(wid: vec3<u32>, lid: u32) -> vec2<f32> {
    let blk = wid.x * 8u + lid / 32u;
    let lane = lid % 32u;
    let valid = blk * 32u < p.n;
    var v = 0.0;
    if (valid) {
        v = src[wid.y * p.n + blk * 32u + lane];
    }
    amax_v[lid] = abs(v);
    workgroupBarrier();
    for (var s = 16u; s > 0u; s >>= 1u) {
        if (lane < s) {
            amax_v[lid] = max(amax_v[lid], amax_v[lid + s]);
        }
        workgroupBarrier();
    }
    let amax = amax_v[lid - lane];
    let d = div(amax, 127.0);
    var id = 0.0;
    if (amax != 0.0) {
        id = div(127.0, amax);
    }
    quants[lid] = i32(round(v * id));
    workgroupBarrier();
    var sum = 0;
    if (lane == 0u) {
        for (var k = 0u; k < 32u; k++) {
            sum += quants[lid + k];
        }
    }
    return vec2<f32>(d, f32(sum));
}

@compute @workgroup_size(256)
fn quantize_q8_0(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let r = quantize_32(wid, lid);
    let blk = wid.x * 8u + lid / 32u;
    let lane = lid % 32u;
    if (blk * 32u < p.n) {
        let base = wid.y * p.act_stride + blk * Q8_0_WORDS;
        if (lane < 8u) {
            act[base + 1u + lane] = pack4(lid - lane + 4u * lane);
        }
        if (lane == 0u) {
            act[base] = bitcast<u32>(round_f16(r.x));
        }
    }
}

@compute @workgroup_size(256)
fn quantize_q8_1(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let r = quantize_32(wid, lid);
    let blk = wid.x * 8u + lid / 32u;
    let lane = lid % 32u;
    if (blk * 32u < p.n) {
        let base = wid.y * p.act_stride + blk * Q8_1_WORDS;
        if (lane < 8u) {
            act[base + 2u + lane] = pack4(lid - lane + 4u * lane);
        }
        if (lane == 0u) {
            act[base] = bitcast<u32>(round_f16(r.x));
            act[base + 1u] = bitcast<u32>(round_f16(r.y * r.x));
        }
    }
}
