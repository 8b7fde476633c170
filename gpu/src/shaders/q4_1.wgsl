// Q4_1 (20 bytes: d, m, 16 bytes of nibbles) · Q8_1 activations;
// fuselm-core's quant::q4_1::vec_dot. Blocks are word-aligned.

const BLOCK_BYTES: u32 = 20u;
const ACT_WORDS: u32 = Q8_1_WORDS;

fn block_dot(o: u32, a: u32) -> f32 {
    let wi = o / 4u;
    var sumi = 0;
    for (var i = 0u; i < 4u; i++) {
        let q = w[wi + 1u + i];
        sumi += dot4I8Packed(q & 0x0f0f0f0fu, act[a + 2u + i]) + dot4I8Packed((q >> 4u) & 0x0f0f0f0fu, act[a + 6u + i]);
    }
    let dm = w[wi];
    return f32(sumi) * (f16_bits_to_f32(dm & 0xffffu) * bitcast<f32>(act[a])) + f16_bits_to_f32(dm >> 16u) * bitcast<f32>(act[a + 1u]);
}
