// Activation blocks in `act` (quantize.wgsl writes them), in u32 words:
//   Q8_K: d (f32), 256 quants (64 words of 4 i8), 16 sums of 16 quants (i32)
//   Q8_0: d (f32, rounded to f16 as the CPU's block stores it), 32 quants
//   Q8_1: d, s = d * sum of quants (both rounded to f16), 32 quants
const Q8K_WORDS: u32 = 81u;
const Q8_0_WORDS: u32 = 9u;
const Q8_1_WORDS: u32 = 10u;

fn q8k_bsum(a: u32, j: u32) -> i32 {
    return bitcast<i32>(act[a + 65u + j]);
}
