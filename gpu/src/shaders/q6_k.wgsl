// Q6_K (210 bytes: 128 of low nibbles, 64 of high 2-bit pairs, 16 signed
// scales, d) · Q8_K activations; fuselm-core's quant::q6_k::vec_dot. Blocks
// start unaligned, so bytes are read through w_word. A quant is 0..63 here
// and 32 is subtracted through the activation sums of its group of four.

const BLOCK_BYTES: u32 = 210u;
const ACT_WORDS: u32 = Q8K_WORDS;

fn block_dot(o: u32, a: u32) -> f32 {
    var group = array<i32, 16>();
    for (var half = 0u; half < 2u; half++) {
        let ql = o + 64u * half;
        let qh = o + 128u + 32u * half;
        let aq = a + 1u + 32u * half; // activation words of this half (128 values)
        for (var l = 0u; l < 32u; l += 4u) {
            let lo = w_word(ql + l);
            let lo2 = w_word(ql + l + 32u);
            let h = w_word(qh + l);
            let q1 = (lo & 0x0f0f0f0fu) | ((h & 0x03030303u) << 4u);
            let q2 = (lo2 & 0x0f0f0f0fu) | (((h >> 2u) & 0x03030303u) << 4u);
            let q3 = ((lo >> 4u) & 0x0f0f0f0fu) | (((h >> 4u) & 0x03030303u) << 4u);
            let q4 = ((lo2 >> 4u) & 0x0f0f0f0fu) | (((h >> 6u) & 0x03030303u) << 4u);
            let a1 = act[aq + l / 4u];
            let a2 = act[aq + 8u + l / 4u];
            let a3 = act[aq + 16u + l / 4u];
            let a4 = act[aq + 24u + l / 4u];
            let is = 8u * half + l / 16u;
            group[is] += dot4I8Packed(q1, a1) - 32 * byte_sum(a1);
            group[is + 2u] += dot4I8Packed(q2, a2) - 32 * byte_sum(a2);
            group[is + 4u] += dot4I8Packed(q3, a3) - 32 * byte_sum(a3);
            group[is + 6u] += dot4I8Packed(q4, a4) - 32 * byte_sum(a4);
        }
    }
    var sumi = 0;
    for (var j = 0u; j < 16u; j++) {
        sumi += group[j] * sbyte(w_word(o + 192u + (j & ~3u)), j & 3u);
    }
    let ad = bitcast<f32>(act[a]);
    return ad * w_f16(o + 208u) * f32(sumi);
}
