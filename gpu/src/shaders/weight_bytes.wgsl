// Little-endian reads of the weight binding `w` (GGUF block bytes as words)
// at any byte offset: blocks of 18, 22, 34 or 210 bytes start unaligned.

fn w_byte(off: u32) -> u32 {
    return (w[off >> 2u] >> ((off & 3u) * 8u)) & 0xffu;
}

fn w_u16(off: u32) -> u32 {
    return w_byte(off) | (w_byte(off + 1u) << 8u);
}

fn w_word(off: u32) -> u32 {
    let i = off >> 2u;
    let s = (off & 3u) * 8u;
    if (s == 0u) {
        return w[i];
    }
    return (w[i] >> s) | (w[i + 1u] << (32u - s));
}

fn w_f16(off: u32) -> f32 {
    return f16_bits_to_f32(w_u16(off));
}

// The signed byte k (0..3) of a word.
fn sbyte(word: u32, k: u32) -> i32 {
    return bitcast<i32>(word << (24u - 8u * k)) >> 24u;
}

// The sum of a packed word's four signed bytes.
fn byte_sum(word: u32) -> i32 {
    return dot4I8Packed(word, 0x01010101u);
}

// Four bits spread to bit 4 of four bytes (the fifth bit of Q5_0 and Q5_1 quants).
fn high_bits(h: u32) -> u32 {
    return ((h & 1u) | ((h & 2u) << 7u) | ((h & 4u) << 14u) | ((h & 8u) << 21u)) << 4u;
}
