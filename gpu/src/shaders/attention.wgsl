// Causal attention of each query head over the f16 key/value cache of one
// layer, for query tokens at positions pos0.. (a sliding window masks keys
// `window` or more behind the query). A workgroup per (head, token); keys in
// chunks of 256, one per invocation for the scores, with an online softmax
// across chunks, then one output dimension per invocation. Scores, exps and
// sums are f32 (the CPU rounds its value accumulator to f16 as llama.cpp
// does, so outputs differ in low bits). Dispatch: (n_head, n_tok, 1).

struct AttentionParams {
    n_head: u32,
    n_head_kv: u32,
    head_dim_k: u32,
    head_dim_v: u32,
    window: u32,  // 0: none
    scale: f32,
    _pad0: u32,
    _pad1: u32,
}

struct Step {
    pos0: u32,
    n_tok: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> q: array<f32>;        // [n_tok, n_head * head_dim_k]
@group(0) @binding(1) var<storage, read> k_cache: array<u32>;  // [n_ctx, n_head_kv * head_dim_k / 2]
@group(0) @binding(2) var<storage, read> v_cache: array<u32>;  // [n_ctx, n_head_kv * head_dim_v / 2]
@group(0) @binding(3) var<storage, read_write> out: array<f32>; // [n_tok, n_head * head_dim_v]
@group(0) @binding(4) var<uniform> p: AttentionParams;
@group(0) @binding(5) var<uniform> step: Step;

const CHUNK: u32 = 256u;
// The lowest finite f32 (-3.4028235e38 rounded up: Tint rejects that
// decimal as out of range, naga rounds it to this value).
const LOWEST: f32 = -3.40282346e38;
var<workgroup> q_head: array<f32, 256>;
var<workgroup> probs: array<f32, 256>;
var<workgroup> red: array<f32, 256>;

fn cache_f16(word: u32, hi: bool) -> f32 {
    return f16_bits_to_f32(select(word & 0xffffu, word >> 16u, hi));
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let head = wid.x;
    let tok = wid.y;
    let pos = step.pos0 + tok;
    let kv_head = head / (p.n_head / p.n_head_kv);
    let k_dim = p.n_head_kv * p.head_dim_k;
    let v_dim = p.n_head_kv * p.head_dim_v;
    var first = 0u;
    if (p.window != 0u && pos + 1u > p.window) {
        first = pos + 1u - p.window;
    }
    if (lid < p.head_dim_k) {
        q_head[lid] = q[(tok * p.n_head + head) * p.head_dim_k + lid];
    }
    workgroupBarrier();
    var m = LOWEST;
    var l = 0.0;
    var acc = 0.0;
    for (var c0 = first; c0 <= pos; c0 += CHUNK) {
        let j = c0 + lid;
        var s = LOWEST;
        if (j <= pos) {
            let kb = (j * k_dim + kv_head * p.head_dim_k) / 2u;
            var dot = 0.0;
            for (var d = 0u; d < p.head_dim_k; d += 2u) {
                let word = k_cache[kb + d / 2u];
                dot += q_head[d] * cache_f16(word, false) + q_head[d + 1u] * cache_f16(word, true);
            }
            s = dot * p.scale;
        }
        red[lid] = s;
        workgroupBarrier();
        for (var k = 128u; k > 0u; k >>= 1u) {
            if (lid < k) {
                red[lid] = max(red[lid], red[lid + k]);
            }
            workgroupBarrier();
        }
        let m_new = max(m, red[0]);
        workgroupBarrier();
        var e = 0.0;
        if (j <= pos) {
            e = exp(s - m_new);
        }
        probs[lid] = e;
        red[lid] = e;
        workgroupBarrier();
        for (var k = 128u; k > 0u; k >>= 1u) {
            if (lid < k) {
                red[lid] += red[lid + k];
            }
            workgroupBarrier();
        }
        let corr = exp(m - m_new);
        l = l * corr + red[0];
        let n_keys = min(CHUNK, pos + 1u - c0);
        if (lid < p.head_dim_v) {
            var sum = 0.0;
            let vb = kv_head * p.head_dim_v + lid;
            for (var i = 0u; i < n_keys; i++) {
                let word = v_cache[((c0 + i) * v_dim + vb) / 2u];
                sum += probs[i] * cache_f16(word, (vb & 1u) == 1u);
            }
            acc = acc * corr + sum;
        }
        m = m_new;
        workgroupBarrier();
    }
    if (lid < p.head_dim_v) {
        out[(tok * p.n_head + head) * p.head_dim_v + lid] = acc / l;
    }
}
