// Q4_K (144 bytes: d, dmin, 12 bytes of 6-bit scales and mins, 128 of
// nibbles) · Q8_K activations; fuselm-core's quant::q4_k::vec_dot.

const BLOCK_BYTES: u32 = 144u;
const ACT_WORDS: u32 = Q8K_WORDS;

fn block_dot(o: u32, a: u32) -> f32 {
    var sums = array<i32, 8>();
    for (var c = 0u; c < 4u; c++) {
        for (var i = 0u; i < 8u; i++) {
            let q = w[(o + 16u + 32u * c) / 4u + i];
            sums[2u * c] += dot4I8Packed(q & 0x0f0f0f0fu, act[a + 1u + 16u * c + i]);
            sums[2u * c + 1u] += dot4I8Packed((q >> 4u) & 0x0f0f0f0fu, act[a + 1u + 16u * c + 8u + i]);
        }
    }
    return k4_block(o, a, sums);
}
