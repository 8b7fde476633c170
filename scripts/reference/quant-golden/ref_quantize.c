// Quantizes a float32 row with llama.cpp's reference quantizers
// (quantize_row_*_ref from ggml-base) and writes the blocks, so the Rust tests
// can check our quantizers byte for byte. Built and run by make-golden.
//
// usage: ref_quantize INPUT.f32 OUT_DIR
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml.h"
#include "ggml-quants.h"

typedef void (*ref_fn)(const float *, void *, int64_t);

struct entry { const char * name; enum ggml_type type; ref_fn fn; };

int main(int argc, char ** argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s INPUT.f32 OUT_DIR\n", argv[0]); return 2; }
    FILE * f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    fseek(f, 0, SEEK_END);
    long n_bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    int64_t n = n_bytes / 4;
    float * x = malloc(n_bytes);
    if (fread(x, 4, n, f) != (size_t) n) { perror("read"); return 1; }
    fclose(f);

    const struct entry entries[] = {
        {"q4_0", GGML_TYPE_Q4_0, (ref_fn) quantize_row_q4_0_ref},
        {"q4_1", GGML_TYPE_Q4_1, (ref_fn) quantize_row_q4_1_ref},
        {"q5_0", GGML_TYPE_Q5_0, (ref_fn) quantize_row_q5_0_ref},
        {"q5_1", GGML_TYPE_Q5_1, (ref_fn) quantize_row_q5_1_ref},
        {"q8_0", GGML_TYPE_Q8_0, (ref_fn) quantize_row_q8_0_ref},
        {"q8_1", GGML_TYPE_Q8_1, (ref_fn) quantize_row_q8_1_ref},
        {"q2_k", GGML_TYPE_Q2_K, (ref_fn) quantize_row_q2_K_ref},
        {"q3_k", GGML_TYPE_Q3_K, (ref_fn) quantize_row_q3_K_ref},
        {"q4_k", GGML_TYPE_Q4_K, (ref_fn) quantize_row_q4_K_ref},
        {"q5_k", GGML_TYPE_Q5_K, (ref_fn) quantize_row_q5_K_ref},
        {"q6_k", GGML_TYPE_Q6_K, (ref_fn) quantize_row_q6_K_ref},
        {"q8_k", GGML_TYPE_Q8_K, (ref_fn) quantize_row_q8_K_ref},
    };
    for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
        size_t size = ggml_row_size(entries[i].type, n);
        void * out = calloc(1, size);  // zeroed: Q8_K leaves bsums of all-zero blocks unset
        entries[i].fn(x, out, n);
        char path[4096];
        snprintf(path, sizeof(path), "%s/quant_%s.bin", argv[2], entries[i].name);
        FILE * o = fopen(path, "wb");
        if (!o || fwrite(out, 1, size, o) != size) { perror(path); return 1; }
        fclose(o);
        free(out);
    }
    free(x);
    return 0;
}
