// Model specs built in code for the engine tests, so each test states the exact shapes its
// hand counts use. They mirror the presets in resources/presets/ (tst_model_spec checks the
// presets parse; tst_checkpointing runs them too).
#pragma once

#include <string>

#include "ckpt/model_spec.h"
#include "ckpt/templates.h"

namespace testmodels {

inline ckpt::LayerSpec linear(int64_t in, int64_t out, bool bias = true) {
    ckpt::LayerSpec l;
    l.type = ckpt::LayerType::linear;
    l.in = in;
    l.out = out;
    l.bias = bias;
    return l;
}
inline ckpt::LayerSpec act(ckpt::LayerType t) {
    ckpt::LayerSpec l;
    l.type = t;
    return l;
}
inline ckpt::LayerSpec layernorm(int64_t dim) {
    ckpt::LayerSpec l;
    l.type = ckpt::LayerType::layernorm;
    l.dim = dim;
    return l;
}
inline ckpt::LayerSpec dropout(double p) {
    ckpt::LayerSpec l;
    l.type = ckpt::LayerType::dropout;
    l.p = p;
    return l;
}

// Linear 1024->1024, ReLU, Linear 1024->1024, ReLU, Linear 1024->10; batch 32; one block per pair.
inline ckpt::ModelSpec textbook(int64_t batch = 32, int64_t d = 1024) {
    ckpt::ModelSpec s;
    s.name = "textbook";
    s.input_shape = {batch, d};
    s.loss = ckpt::LossType::cross_entropy;
    s.optimizer.type = ckpt::OptimizerType::sgd;
    s.optimizer.lr = 0.01;
    s.blocks.push_back({"fc1", {linear(d, d), act(ckpt::LayerType::relu)}, false, false});
    s.blocks.push_back({"fc2", {linear(d, d), act(ckpt::LayerType::relu)}, false, false});
    s.blocks.push_back({"head", {linear(d, 10)}, false, false});
    return s;
}

// Linear 10->50 | ReLU, Linear 50->50, ReLU (checkpointed) | Linear 50->1; batch 5; MSE.
inline ckpt::ModelSpec tutorial() {
    ckpt::ModelSpec s;
    s.name = "tutorial";
    s.input_shape = {5, 10};
    s.loss = ckpt::LossType::mse;
    s.optimizer.type = ckpt::OptimizerType::sgd;
    s.optimizer.lr = 0.01;
    s.blocks.push_back({"in", {linear(10, 50)}, false, false});
    s.blocks.push_back({"segment", {act(ckpt::LayerType::relu), linear(50, 50), act(ckpt::LayerType::relu)}, false, true});
    s.blocks.push_back({"out", {linear(50, 1)}, false, false});
    return s;
}

// n residual blocks of LayerNorm -> Linear d->4d -> GELU -> Linear 4d->d; MSE; AdamW.
inline ckpt::ModelSpec deep_residual(int blocks = 24, int64_t rows = 256, int64_t d = 1024, double p = 0.0) {
    ckpt::ModelSpec s;
    s.name = "deep_residual";
    s.input_shape = {rows, d};
    s.loss = ckpt::LossType::mse;
    s.optimizer.type = ckpt::OptimizerType::adamw;
    s.optimizer.weight_decay = 0.01;
    for (int b = 0; b < blocks; ++b) {
        ckpt::BlockSpec blk{"block" + std::to_string(b),
                            {layernorm(d), linear(d, 4 * d), act(ckpt::LayerType::gelu), linear(4 * d, d)},
                            true,
                            false};
        if (p > 0) blk.layers.push_back(dropout(p));
        s.blocks.push_back(blk);
    }
    return s;
}

// Tanh and dropout in the mix, for the RNG tests.
inline ckpt::ModelSpec dropout_mlp(double p = 0.2) {
    ckpt::ModelSpec s;
    s.name = "dropout_mlp";
    s.input_shape = {8, 4, 16};  // (B, T, F): rows = 32
    s.loss = ckpt::LossType::cross_entropy;
    s.optimizer.type = ckpt::OptimizerType::adamw;
    s.seed = 11;
    for (int b = 0; b < 4; ++b)
        s.blocks.push_back({"b" + std::to_string(b),
                            {linear(16, 32), act(ckpt::LayerType::tanh), dropout(p), linear(32, 16)},
                            b % 2 == 1,
                            false});
    s.blocks.push_back({"head", {layernorm(16), linear(16, 6)}, false, false});
    return s;
}

inline ckpt::LayerSpec embedding(int64_t vocab, int64_t dim, int64_t max_len) {
    ckpt::LayerSpec l;
    l.type = ckpt::LayerType::embedding;
    l.vocab = vocab;
    l.dim = dim;
    l.max_len = max_len;
    return l;
}
inline ckpt::LayerSpec attention(int64_t heads, bool causal, double p) {
    ckpt::LayerSpec l;
    l.type = ckpt::LayerType::attention;
    l.heads = heads;
    l.causal = causal;
    l.p = p;
    return l;
}

// A GPT-2-shaped pre-LayerNorm transformer on token ids (B, T): an embedding block, then per
// transformer layer an attention sub-block [LN, Linear d->3d, attention, Linear d->d, dropout]
// and an MLP sub-block [LN, Linear d->4d, GELU, Linear 4d->d, dropout], each residual, then a
// head [LN, Linear d->vocab] with cross-entropy on random next tokens.
inline ckpt::ModelSpec gpt(int64_t vocab, int64_t d, int64_t heads, int layers, int64_t B, int64_t T, double p,
                           ckpt::BlockSpec::Policy policy = ckpt::BlockSpec::Policy::full, bool checkpoint = false) {
    ckpt::ModelSpec s;
    s.name = "gpt";
    s.input_shape = {B, T};
    s.loss = ckpt::LossType::cross_entropy;
    s.optimizer.type = ckpt::OptimizerType::adamw;
    s.seed = 5;
    s.blocks.push_back({"embed", {embedding(vocab, d, T)}, false, false});
    for (int i = 0; i < layers; ++i) {
        ckpt::BlockSpec attn{"h" + std::to_string(i) + ".attn",
                             {layernorm(d), linear(d, 3 * d), attention(heads, true, p), linear(d, d), dropout(p)},
                             true,
                             checkpoint};
        ckpt::BlockSpec mlp{"h" + std::to_string(i) + ".mlp",
                            {layernorm(d), linear(d, 4 * d), act(ckpt::LayerType::gelu), linear(4 * d, d), dropout(p)},
                            true,
                            checkpoint};
        attn.policy = mlp.policy = policy;
        s.blocks.push_back(attn);
        s.blocks.push_back(mlp);
    }
    s.blocks.push_back({"head", {layernorm(d), linear(d, vocab)}, false, false});
    return s;
}

// A LLaMA-shaped decoder on token ids (B, T): per layer an attention sub-block [RMSNorm, Linear
// d -> (heads + 2 kv_heads) hd without bias, grouped-query attention with rotary positions, Linear
// d -> d] and a SwiGLU MLP sub-block [RMSNorm, Linear d -> 2f (gate | up), SwiGLU, Linear f -> d],
// each residual, then [RMSNorm, a head tied to the embedding].
inline ckpt::ModelSpec llama(int64_t vocab, int64_t d, int64_t heads, int64_t kv_heads, int64_t f, int layers, int64_t B,
                             int64_t T, bool checkpoint = false) {
    ckpt::ModelSpec s;
    s.name = "llama";
    s.input_shape = {B, T};
    s.loss = ckpt::LossType::cross_entropy;
    s.optimizer.type = ckpt::OptimizerType::adamw;
    s.seed = 6;
    const int64_t hd = d / heads;
    auto norm = [&] {
        ckpt::LayerSpec n;
        n.type = ckpt::LayerType::rmsnorm;
        n.dim = d;
        return n;
    };
    ckpt::LayerSpec attn = attention(heads, true, 0.0);
    attn.kv_heads = kv_heads;
    attn.rope_theta = 10000.0;
    s.blocks.push_back({"embed", {embedding(vocab, d, 0)}, false, false});
    for (int i = 0; i < layers; ++i) {
        s.blocks.push_back({"l" + std::to_string(i) + ".attn",
                            {norm(), linear(d, (heads + 2 * kv_heads) * hd, false), attn, linear(d, d, false)},
                            true,
                            checkpoint});
        s.blocks.push_back({"l" + std::to_string(i) + ".mlp",
                            {norm(), linear(d, 2 * f, false), act(ckpt::LayerType::swiglu), linear(f, d, false)},
                            true,
                            checkpoint});
    }
    ckpt::LayerSpec head = linear(d, vocab, false);
    head.tied = true;
    s.blocks.push_back({"head", {norm(), head}, false, false});
    return s;
}

// ---- image models ----------------------------------------------------------------------

inline ckpt::LayerSpec conv(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1, int64_t padding = 0,
                            bool bias = false, int64_t groups = 1) {
    ckpt::LayerSpec l;
    l.type = ckpt::LayerType::conv2d;
    l.in = in;
    l.out = out;
    l.kernel = kernel;
    l.stride = stride;
    l.padding = padding;
    l.bias = bias;
    l.groups = groups;
    return l;
}
inline ckpt::LayerSpec batchnorm(int64_t channels) {
    ckpt::LayerSpec l;
    l.type = ckpt::LayerType::batchnorm2d;
    l.dim = channels;
    return l;
}
inline ckpt::LayerSpec pool(ckpt::LayerType t, int64_t kernel = 0, int64_t stride = 0, int64_t padding = 0) {
    ckpt::LayerSpec l;
    l.type = t;
    l.kernel = kernel;
    l.stride = stride;
    l.padding = padding;
    return l;
}

// ResNet's basic block: [conv3x3 (stride s), BN, ReLU, conv3x3, BN] + shortcut, then ReLU; the
// shortcut is the identity, or [conv1x1 stride s, BN] where the shape changes.
inline ckpt::BlockSpec basic_block(const std::string& name, int64_t in, int64_t out, int64_t stride) {
    ckpt::BlockSpec b{name,
                      {conv(in, out, 3, stride, 1), batchnorm(out), act(ckpt::LayerType::relu), conv(out, out, 3, 1, 1),
                       batchnorm(out)},
                      true,
                      false};
    if (stride != 1 || in != out) b.shortcut = {conv(in, out, 1, stride), batchnorm(out)};
    b.post = {act(ckpt::LayerType::relu)};
    return b;
}

// A CIFAR-shaped ResNet on (B, 3, S, S) images: a stem [conv3x3 3->w0, BN, ReLU], one basic
// block per width (the first at stride 1, the others at stride 2 with a projection shortcut),
// a head [global average pool, flatten, Linear -> classes]; cross-entropy, SGD with momentum.
inline ckpt::ModelSpec resnet(int64_t B, int64_t S, std::vector<int64_t> widths = {8, 16}, int64_t classes = 10) {
    ckpt::ModelSpec s;
    s.name = "resnet";
    s.input_shape = {B, 3, S, S};
    s.loss = ckpt::LossType::cross_entropy;
    s.optimizer.type = ckpt::OptimizerType::sgd;
    s.optimizer.lr = 0.05;
    s.optimizer.momentum = 0.9;
    s.seed = 9;
    s.blocks.push_back({"stem", {conv(3, widths[0], 3, 1, 1), batchnorm(widths[0]), act(ckpt::LayerType::relu)}, false, false});
    int64_t c = widths[0];
    for (size_t i = 0; i < widths.size(); ++i) {
        s.blocks.push_back(basic_block("stage" + std::to_string(i), c, widths[i], i == 0 ? 1 : 2));
        c = widths[i];
    }
    s.blocks.push_back({"head",
                        {pool(ckpt::LayerType::global_avgpool), act(ckpt::LayerType::flatten), linear(c, classes)},
                        false,
                        false});
    return s;
}

// The same model with every attention layer on kernel `impl` (eager or flash).
inline ckpt::ModelSpec with_attention(ckpt::ModelSpec s, ckpt::AttentionImpl impl) {
    ckpt::set_attention_impl(s, impl);
    return s;
}

inline ckpt::ModelSpec with_checkpoints(ckpt::ModelSpec s, const std::vector<bool>& flags) {
    for (size_t b = 0; b < s.blocks.size() && b < flags.size(); ++b) s.blocks[b].checkpoint = flags[b];
    return s;
}

// `blocks` residual blocks Linear 16->16, ReLU on 64 rows, none checkpointed: a long stack that
// plans, predicts and draws in seconds (the GUI's responsiveness test and benchmark; rows enough
// for activations to matter, so a plan has something to save).
inline ckpt::ModelSpec long_chain(int blocks) {
    ckpt::ModelSpec s;
    s.name = "long-chain";
    s.input_shape = {64, 16};
    s.loss = ckpt::LossType::mse;
    s.optimizer.type = ckpt::OptimizerType::sgd;
    for (int b = 0; b < blocks; ++b)
        s.blocks.push_back(ckpt::BlockSpec{"b" + std::to_string(b), {linear(16, 16), act(ckpt::LayerType::relu)}, true, false});
    return s;
}

}  // namespace testmodels
