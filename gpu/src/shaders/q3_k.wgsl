// Q3_K (110 bytes: 32 bytes of high bits, 64 bytes of 2-bit quants, 12
// bytes of 6-bit signed scales, d) · Q8_K activations; fuselm-core's
// quant::q3_k::vec_dot. Blocks start unaligned, so bytes are read through
// w_word. A quant is 0..7 here and 4 is subtracted through the activation
// sums.

const BLOCK_BYTES: u32 = 110u;
const ACT_WORDS: u32 = Q8K_WORDS;

// Scale j (minus 32): its low nibble in byte j (j < 8) or the high nibble of
// byte j - 8, its top two bits in byte 8 + j % 4 at bit 2 * (j / 4).
fn q3k_scale(o: u32, j: u32) -> i32 {
    var low = w_byte(o + 96u + j) & 0xfu;
    if (j >= 8u) {
        low = w_byte(o + 88u + j) >> 4u;
    }
    let high = (w_byte(o + 104u + j % 4u) >> (2u * (j / 4u))) & 3u;
    return i32(low | (high << 4u)) - 32;
}

fn block_dot(o: u32, a: u32) -> f32 {
    var group = array<i32, 16>();
    for (var i = 0u; i < 8u; i++) {
        let hw = w_word(o + 4u * i);
        for (var half = 0u; half < 2u; half++) {
            let qw = w_word(o + 32u + 32u * half + 4u * i);
            for (var shift = 0u; shift < 4u; shift++) {
                let q = ((qw >> (2u * shift)) & 0x03030303u) | (((hw >> (4u * half + shift)) & 0x01010101u) << 2u);
                let av = act[a + 1u + 32u * half + 8u * shift + i];
                group[8u * half + 2u * shift + i / 4u] += dot4I8Packed(q, av) - 4 * byte_sum(av);
            }
        }
    }
    var sumi = 0;
    for (var j = 0u; j < 16u; j++) {
        sumi += group[j] * q3k_scale(o, j);
    }
    return bitcast<f32>(act[a]) * w_f16(o + 108u) * f32(sumi);
}
