// Q5_0 (22 bytes: d, 32 high bits, 16 bytes of nibbles, quant - 16) · Q8_0
// activations; fuselm-core's quant::q5_0::vec_dot.

const BLOCK_BYTES: u32 = 22u;
const ACT_WORDS: u32 = Q8_0_WORDS;

fn block_dot(o: u32, a: u32) -> f32 {
    let qh = w_word(o + 2u);
    var sumi = 0;
    for (var i = 0u; i < 4u; i++) {
        let q = w_word(o + 6u + 4u * i);
        let a_lo = act[a + 1u + i];
        let a_hi = act[a + 5u + i];
        let lo = (q & 0x0f0f0f0fu) | high_bits((qh >> (4u * i)) & 0xfu);
        let hi = ((q >> 4u) & 0x0f0f0f0fu) | high_bits((qh >> (16u + 4u * i)) & 0xfu);
        sumi += dot4I8Packed(lo, a_lo) + dot4I8Packed(hi, a_hi) - 16 * (byte_sum(a_lo) + byte_sum(a_hi));
    }
    return f32(sumi) * (w_f16(o) * bitcast<f32>(act[a]));
}
