// Q5_1 (24 bytes: d, m, 32 high bits, 16 bytes of nibbles) · Q8_1
// activations; fuselm-core's quant::q5_1::vec_dot. Blocks are word-aligned.

const BLOCK_BYTES: u32 = 24u;
const ACT_WORDS: u32 = Q8_1_WORDS;

fn block_dot(o: u32, a: u32) -> f32 {
    let wi = o / 4u;
    let qh = w[wi + 1u];
    var sumi = 0;
    for (var i = 0u; i < 4u; i++) {
        let q = w[wi + 2u + i];
        let lo = (q & 0x0f0f0f0fu) | high_bits((qh >> (4u * i)) & 0xfu);
        let hi = ((q >> 4u) & 0x0f0f0f0fu) | high_bits((qh >> (16u + 4u * i)) & 0xfu);
        sumi += dot4I8Packed(lo, act[a + 2u + i]) + dot4I8Packed(hi, act[a + 6u + i]);
    }
    let dm = w[wi];
    return f32(sumi) * (f16_bits_to_f32(dm & 0xffffu) * bitcast<f32>(act[a])) + f16_bits_to_f32(dm >> 16u) * bitcast<f32>(act[a + 1u]);
}
