// Sub-block j's 6-bit (scale, min) of a Q4_K or Q5_K block whose 12 packed
// bytes start at byte o; ggml's get_scale_min_k4.
fn scale_min_k4(o: u32, j: u32) -> vec2<u32> {
    if (j < 4u) {
        return vec2<u32>(w_byte(o + j) & 63u, w_byte(o + j + 4u) & 63u);
    }
    let a = w_byte(o + j + 4u);
    return vec2<u32>((a & 0xfu) | ((w_byte(o + j - 4u) >> 6u) << 4u), (a >> 4u) | ((w_byte(o + j) >> 6u) << 4u));
}
