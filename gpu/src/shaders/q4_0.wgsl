// Q4_0 (18 bytes: d, 16 bytes of nibbles, quant - 8) · Q8_0 activations;
// fuselm-core's quant::q4_0::vec_dot.

const BLOCK_BYTES: u32 = 18u;
const ACT_WORDS: u32 = Q8_0_WORDS;

fn block_dot(o: u32, a: u32) -> f32 {
    var sumi = 0;
    for (var i = 0u; i < 4u; i++) {
        let q = w_word(o + 2u + 4u * i);
        let a_lo = act[a + 1u + i];
        let a_hi = act[a + 5u + i];
        sumi += dot4I8Packed(q & 0x0f0f0f0fu, a_lo) + dot4I8Packed((q >> 4u) & 0x0f0f0f0fu, a_hi);
        sumi -= 8 * (byte_sum(a_lo) + byte_sum(a_hi));
    }
    return f32(sumi) * (w_f16(o) * bitcast<f32>(act[a]));
}
