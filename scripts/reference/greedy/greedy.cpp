// Greedy reference continuations from llama.cpp (the library behind
// llama-completion; here as `llama-completion --temp 0 -ub 1 --no-repack`),
// printed as token ids so fuselm's tests can compare ids,
// not re-tokenized text. Built against the vendored llama.cpp by
// make-reference; not part of fuselm's build.
//
// usage: greedy MODEL N_PREDICT PROMPT [LOGITS_OUT]
// prints one JSON object: {"prompt_ids": [...], "ids": [...]}; with LOGITS_OUT,
// the logits after the last generated token are written there as f32.
#include "llama.h"

#include <clocale>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

static void set_batch(llama_batch_ext * batch, const llama_token * tokens, int n, llama_pos pos0) {
    llama_batch_ext_clear(batch);
    for (int i = 0; i < n; ++i) {
        const int idx = llama_batch_ext_add_token(batch, 0, tokens[i]);
        const llama_pos pos = pos0 + i;
        llama_batch_ext_set_pos(batch, idx, &pos);
    }
    llama_batch_ext_set_output_logits(batch, n - 1, true);
}

static void print_ids(const char * key, const std::vector<llama_token> & ids) {
    printf("\"%s\": [", key);
    for (size_t i = 0; i < ids.size(); ++i) {
        printf(i ? ", %d" : "%d", ids[i]);
    }
    printf("]");
}

int main(int argc, char ** argv) {
    std::setlocale(LC_NUMERIC, "C");
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL N_PREDICT PROMPT [LOGITS_OUT]\n", argv[0]);
        return 2;
    }
    const std::string prompt = argv[3];
    const int n_predict = atoi(argv[2]);
    llama_log_set([](ggml_log_level, const char *, void *) {}, nullptr);
    llama_backend_init();
    llama_model_params mp = llama_model_default_params();
    // Without the repacked-weight buffers (llama-completion --no-repack): the
    // repacked Q4_K GEMM sums in another float order, so prefill logits would
    // differ from the plain kernels' in the last bits.
    mp.use_extra_bufts = getenv("GREEDY_REPACK") != nullptr;
    llama_model * model = llama_model_load_from_file(argv[1], mp);
    if (!model) {
        fprintf(stderr, "cannot load %s\n", argv[1]);
        return 1;
    }
    const llama_vocab * vocab = llama_model_get_vocab(model);
    // As llama-completion: add BOS where the vocabulary asks, parse special tokens.
    const int n_prompt = -llama_tokenize(vocab, prompt.c_str(), prompt.size(), NULL, 0, true, true);
    std::vector<llama_token> prompt_ids(n_prompt);
    llama_tokenize(vocab, prompt.c_str(), prompt.size(), prompt_ids.data(), n_prompt, true, true);

    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 4096;
    cp.n_batch = 2048;
    // One token per micro-batch (llama-completion -ub 1): llama.cpp then
    // computes every product with its vec_dot kernels, as for decoding. Larger
    // micro-batches go through tinyBLAS, whose float summation order differs,
    // so llama.cpp's own prefill logits change in the last bits with the
    // batch size; fuselm's do not.
    cp.n_ubatch = getenv("GREEDY_UBATCH") ? atoi(getenv("GREEDY_UBATCH")) : 1;
    // One thread: from 512 cached keys on, llama.cpp splits attention across
    // threads and merges partial softmaxes, which rounds differently per count.
    cp.n_threads = cp.n_threads_batch = 1;
    llama_context * ctx = llama_init_from_model(model, cp);
    llama_batch_ext * batch = llama_batch_ext_init(ctx);

    std::vector<llama_token> ids;
    set_batch(batch, prompt_ids.data(), n_prompt, 0);
    llama_pos pos = 0;
    int n_in_batch = n_prompt;
    while (true) {
        if (llama_process(ctx, LLAMA_PROCESS_TYPE_DECODE, batch)) {
            fprintf(stderr, "decode failed\n");
            return 1;
        }
        pos += n_in_batch;
        const float * logits = llama_get_logits_ith(ctx, -1);
        if ((int) ids.size() == n_predict) {
            if (argc > 4) {
                FILE * f = fopen(argv[4], "wb");
                fwrite(logits, sizeof(float), llama_vocab_n_tokens(vocab), f);
                fclose(f);
            }
            break;
        }
        const int n_vocab = llama_vocab_n_tokens(vocab);
        llama_token best = 0;
        for (int i = 1; i < n_vocab; ++i) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        ids.push_back(best);
        if (llama_vocab_is_eog(vocab, best) && argc <= 4) {
            break;
        }
        set_batch(batch, &best, 1, pos);
        n_in_batch = 1;
    }
    printf("{");
    print_ids("prompt_ids", prompt_ids);
    printf(", ");
    print_ids("ids", ids);
    printf("}\n");
    llama_batch_ext_free(batch);
    llama_free(ctx);
    llama_model_free(model);
    return 0;
}
