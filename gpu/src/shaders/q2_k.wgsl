// Q2_K (84 bytes: 16 bytes of 4-bit (scale, min) pairs, 64 bytes of 2-bit
// quants, d, dmin) · Q8_K activations; fuselm-core's quant::q2_k::vec_dot.
// Blocks are word-aligned.

const BLOCK_BYTES: u32 = 84u;
const ACT_WORDS: u32 = Q8K_WORDS;

fn block_dot(o: u32, a: u32) -> f32 {
    let wi = o / 4u;
    var group = array<i32, 16>();
    for (var half = 0u; half < 2u; half++) {
        for (var shift = 0u; shift < 4u; shift++) {
            for (var i = 0u; i < 8u; i++) {
                let q = (w[wi + 4u + 8u * half + i] >> (2u * shift)) & 0x03030303u;
                group[8u * half + 2u * shift + i / 4u] += dot4I8Packed(q, act[a + 1u + 32u * half + 8u * shift + i]);
            }
        }
    }
    var sumi = 0;
    var summ = 0;
    for (var j = 0u; j < 16u; j++) {
        let sm = (w[wi + j / 4u] >> (8u * (j % 4u))) & 0xffu;
        sumi += i32(sm & 0xfu) * group[j];
        summ += i32(sm >> 4u) * q8k_bsum(a, j);
    }
    let dm = w[wi + 20u];
    let ad = bitcast<f32>(act[a]);
    return ad * f16_bits_to_f32(dm & 0xffffu) * f32(sumi) - ad * f16_bits_to_f32(dm >> 16u) * f32(summ);
}
