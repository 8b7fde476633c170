// Q8_0 (34 bytes: d, 32 signed quants) · Q8_0 activations; fuselm-core's
// quant::q8_0::vec_dot.

const BLOCK_BYTES: u32 = 34u;
const ACT_WORDS: u32 = Q8_0_WORDS;

fn block_dot(o: u32, a: u32) -> f32 {
    var sumi = 0;
    for (var i = 0u; i < 8u; i++) {
        sumi += dot4I8Packed(w_word(o + 2u + 4u * i), act[a + 1u + i]);
    }
    return f32(sumi) * (w_f16(o) * bitcast<f32>(act[a]));
}
