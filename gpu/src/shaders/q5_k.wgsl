// Q5_K (176 bytes: d, dmin, 12 bytes of scales and mins, 32 of high bits,
// 128 of nibbles) · Q8_K activations; fuselm-core's quant::q5_k::vec_dot.

const BLOCK_BYTES: u32 = 176u;
const ACT_WORDS: u32 = Q8K_WORDS;

fn block_dot(o: u32, a: u32) -> f32 {
    let dm = w[o / 4u]; // blocks are word-aligned
    let d = f16_bits_to_f32(dm & 0xffffu);
    let dmin = f16_bits_to_f32(dm >> 16u);
    var sumi = 0;
    var summ = 0;
    for (var c = 0u; c < 4u; c++) {
        var s_lo = 0;
        var s_hi = 0;
        for (var i = 0u; i < 8u; i++) {
            let q = w[(o + 48u + 32u * c) / 4u + i];
            let h = w[(o + 16u) / 4u + i];
            let lo = (q & 0x0f0f0f0fu) | (((h >> (2u * c)) & 0x01010101u) << 4u);
            let hi = ((q >> 4u) & 0x0f0f0f0fu) | (((h >> (2u * c + 1u)) & 0x01010101u) << 4u);
            s_lo += dot4I8Packed(lo, act[a + 1u + 16u * c + i]);
            s_hi += dot4I8Packed(hi, act[a + 1u + 16u * c + 8u + i]);
        }
        let sm_lo = scale_min_k4(o + 4u, 2u * c);
        let sm_hi = scale_min_k4(o + 4u, 2u * c + 1u);
        sumi += i32(sm_lo.x) * s_lo + i32(sm_hi.x) * s_hi;
        summ += i32(sm_lo.y) * (q8k_bsum(a, 4u * c) + q8k_bsum(a, 4u * c + 1u));
        summ += i32(sm_hi.y) * (q8k_bsum(a, 4u * c + 2u) + q8k_bsum(a, 4u * c + 3u));
    }
    let ad = bitcast<f32>(act[a]);
    return ad * d * f32(sumi) - ad * dmin * f32(summ);
}
