// Sub-block j's 6-bit (scale, min) of a Q4_K or Q5_K block whose 12 packed
// bytes start at byte o; ggml's get_scale_min_k4.
fn scale_min_k4(o: u32, j: u32) -> vec2<u32> {
    if (j < 4u) {
        return vec2<u32>(w_byte(o + j) & 63u, w_byte(o + j + 4u) & 63u);
    }
    let a = w_byte(o + j + 4u);
    return vec2<u32>((a & 0xfu) | ((w_byte(o + j - 4u) >> 6u) << 4u), (a >> 4u) | ((w_byte(o + j) >> 6u) << 4u));
}

// A Q4_K or Q5_K block's value from its eight sub-block integer sums: each
// scaled by its 6-bit scale, the mins folded in through the activation
// block's sums (`o`: the block's byte offset, `a`: its activation block).
fn k4_block(o: u32, a: u32, sums: array<i32, 8>) -> f32 {
    var s = sums;
    var sumi = 0;
    var summ = 0;
    for (var j = 0u; j < 8u; j++) {
        let sm = scale_min_k4(o + 4u, j);
        sumi += i32(sm.x) * s[j];
        summ += i32(sm.y) * (q8k_bsum(a, 2u * j) + q8k_bsum(a, 2u * j + 1u));
    }
    let dm = w[o / 4u]; // d and dmin: the blocks are word-aligned
    let ad = bitcast<f32>(act[a]);
    return ad * f16_bits_to_f32(dm & 0xffffu) * f32(sumi) - ad * f16_bits_to_f32(dm >> 16u) * f32(summ);
}
