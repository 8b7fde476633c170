// y[tok, out_row0 + r] = row r of this part of W · activation row tok, for
// W in GGUF blocks (the format's `block_dot`, defined beside this file) and
// activations quantized to the format's activation blocks (quantize.wgsl).
// A workgroup computes ROWS rows of one token, LANES invocations per row,
// each over every LANES-th block; their partial sums are added in lane order.
// Dispatch: (ceil(n_rows / ROWS), 1, n_tok).

struct MatvecParams {
    n_rows: u32,     // rows in this part
    row_bytes: u32,
    n_blocks: u32,   // blocks per row
    out_row0: u32,   // the part's first output index
    n_out: u32,      // outputs per token (y's row stride)
    act_stride: u32, // words per activation row
    act_offset: u32, // words before the first activation row
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> w: array<u32>;
@group(0) @binding(1) var<storage, read> act: array<u32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: MatvecParams;

const ROWS: u32 = 8u;
const LANES: u32 = 8u;
var<workgroup> partial: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let row = wid.x * ROWS + lid / LANES;
    let lane = lid % LANES;
    let tok = wid.z;
    let valid = row < p.n_rows;
    let a0 = p.act_offset + tok * p.act_stride;
    var sum = 0.0;
    if (valid) {
        for (var b = lane; b < p.n_blocks; b += LANES) {
            sum += block_dot(row * p.row_bytes + b * BLOCK_BYTES, a0 + b * ACT_WORDS);
        }
    }
    partial[lid] = sum;
    workgroupBarrier();
    if (valid && lane == 0u) {
        var total = 0.0;
        for (var k = 0u; k < LANES; k++) {
            total += partial[lid + k];
        }
        y[tok * p.n_out + p.out_row0 + row] = total;
    }
}
