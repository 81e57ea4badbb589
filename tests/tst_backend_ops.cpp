// Every backend op on every available backend against the CPU reference, in the style of ggml's
// test-backend-ops: a table of ops x shapes (odd ones included: 1, 3, 7, 127 and sizes that are
// not multiples of any vector width), the same host inputs uploaded to each backend, outputs
// poisoned with NaN before the op so an unwritten element fails, and the results compared:
//   bitwise where the op is exact by design: ReLU, masks, fills, copies, adds, the embedding
//     scatter (repeated tokens add in row order on every device), the optimizer steps and MSE's
//     gradient (written without fused multiply-adds), and the gradient digest;
//   otherwise by normalized mean squared error, sum (a - b)^2 / sum b^2: f32 results that
//     differ only in summation order differ by about sqrt(n) * 2^-24 relative (NMSE near 1e-14
//     for short sums, up to ~1e-10 for the 70,000-row column sums), so at most 1e-8; a 16-bit
//     result can land one unit of its last place away where the f32 values before rounding
//     differed in their last bits (2^-8 relative for bf16, 2^-11 for f16), so at most 1e-4
//     (bf16) and 1e-6 (f16) — still far below a wrong index, sign or missing term, which is O(1).
//     Scalars (losses, summed in double) to 1e-9 relative, except cross-entropy's (1e-6: it sums
//     f32 exponentials, whose ulps differ by device).
// Every typed op runs in f32, bf16 and f16 (the mixed-precision paths).
// The dry backend computes nothing; at the layer level its byte counts must equal those of the
// backend it predicts, allocation by allocation. A backend that is absent is a clean skip that
// names the reason.
#include <QtTest>

#include <array>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <type_traits>

#include "backends/backend.h"
#include "ckpt/layer_traits.h"
#include "backends/scratch.h"
#include "core/philox.h"
#include "core/recorder.h"
#include "layers/layer.h"
#include "test_models.h"

using namespace ckpt;

namespace {

enum class Check { bitwise, nmse };
constexpr double kScalarRel = 1e-9;

double max_nmse(ElemType t) { return t == ElemType::bf16 ? 1e-4 : t == ElemType::f16 ? 1e-6 : 1e-8; }

const char* type_name(ElemType t) { return t == ElemType::bf16 ? "bf16" : t == ElemType::f16 ? "f16" : "f32"; }

// Host values in a device type's bytes (rounded to nearest even), and back.
std::vector<unsigned char> to_bytes(const std::vector<float>& v, ElemType t) {
    std::vector<unsigned char> b(v.size() * size_t(elem_size(t)));
    for (size_t i = 0; i < v.size(); ++i) {
        if (t == ElemType::f32) {
            std::memcpy(b.data() + 4 * i, &v[i], 4);
        } else {
            const uint16_t h = t == ElemType::bf16 ? f32_to_bf16(v[i]) : f32_to_f16(v[i]);
            std::memcpy(b.data() + 2 * i, &h, 2);
        }
    }
    return b;
}
float value_at(const unsigned char* b, size_t i, ElemType t) {
    if (t == ElemType::f32) {
        float f;
        std::memcpy(&f, b + 4 * i, 4);
        return f;
    }
    uint16_t h;
    std::memcpy(&h, b + 2 * i, 2);
    return t == ElemType::bf16 ? bf16_to_f32(h) : f16_to_f32(h);
}

// The buffers of one op on one backend: inputs uploaded, outputs poisoned, results read back.
class Run {
public:
    explicit Run(Backend& be) : be_(be) {}
    ~Run() {
        for (auto& [p, n] : bufs_) be_.release(p, n);
    }
    Backend& be() { return be_; }

    template <typename T>
    T* in(const std::vector<T>& h) {
        T* p = static_cast<T*>(alloc(h.size() * sizeof(T)));
        if (!h.empty()) be_.from_host(p, h.data(), h.size() * sizeof(T));
        return p;
    }
    // Host floats as a device tensor of type t.
    void* in(const std::vector<float>& h, ElemType t) {
        const std::vector<unsigned char> b = to_bytes(h, t);
        void* p = alloc(b.size());
        if (!b.empty()) be_.from_host(p, b.data(), b.size());
        return p;
    }
    // An output: poisoned with 0xFF bytes (NaN for every float type) and read back after the op.
    template <typename T>
    T* out(int64_t n, Check check) {
        const ElemType t = std::is_same_v<T, float> ? ElemType::f32 : std::is_same_v<T, int64_t> ? ElemType::i64 : ElemType::u8;
        return static_cast<T*>(out(n, t, check));
    }
    void* out(int64_t n, ElemType t, Check check) {
        const size_t bytes = size_t(std::max<int64_t>(n, 1)) * size_t(elem_size(t));
        void* p = alloc(bytes);
        const std::vector<unsigned char> poison(bytes, 0xFF);
        be_.from_host(p, poison.data(), bytes);
        outs_.push_back({p, size_t(n) * size_t(elem_size(t)), check, t});
        return p;
    }
    // An in/out buffer (optimizer weights, a GEMM's C): uploaded, then compared like an output.
    float* inout(const std::vector<float>& h, Check check) { return static_cast<float*>(inout(h, ElemType::f32, check)); }
    void* inout(const std::vector<float>& h, ElemType t, Check check) {
        void* p = in(h, t);
        outs_.push_back({p, h.size() * size_t(elem_size(t)), check, t});
        return p;
    }
    // A host value with its relative tolerance.
    void scalar(double v, double tol = kScalarRel) { scalars_.push_back({v, tol}); }
    // Drops the last output from the comparison (scratch whose contents are the device's business).
    void outs_pop() { outs_.pop_back(); }
    void digest(const Digest& d) { digests_.push_back(d); }

    struct Out {
        void* p;
        size_t bytes;
        Check check;
        ElemType type;
        bool floating() const { return type == ElemType::f32 || is_low_precision(type); }
    };
    std::vector<std::vector<unsigned char>> read() {
        std::vector<std::vector<unsigned char>> r;
        for (const Out& o : outs_) {
            std::vector<unsigned char> h(o.bytes);
            if (o.bytes) be_.to_host(h.data(), o.p, o.bytes);
            r.push_back(std::move(h));
        }
        return r;
    }
    const std::vector<Out>& outs() const { return outs_; }
    const std::vector<std::pair<double, double>>& scalars() const { return scalars_; }
    const std::vector<Digest>& digests() const { return digests_; }

private:
    void* alloc(size_t bytes) {
        void* p = be_.allocate(std::max<size_t>(bytes, 4));
        if (!p) qFatal("backend %s: allocation of %zu bytes failed", be_.name().c_str(), bytes);
        bufs_.push_back({p, std::max<size_t>(bytes, 4)});
        return p;
    }
    Backend& be_;
    std::vector<std::pair<void*, size_t>> bufs_;
    std::vector<Out> outs_;
    std::vector<std::pair<double, double>> scalars_;
    std::vector<Digest> digests_;
};

std::vector<float> randn(int64_t n, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(size_t(std::max<int64_t>(n, 0)));
    for (float& x : v) x = d(rng);
    return v;
}
std::vector<int64_t> randi(int64_t n, int64_t hi, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int64_t> d(0, hi - 1);
    std::vector<int64_t> v(static_cast<size_t>(n));
    for (int64_t& x : v) x = d(rng);
    return v;
}
std::vector<uint8_t> randmask(int64_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<uint8_t> v(static_cast<size_t>(n));
    for (uint8_t& x : v) x = uint8_t(rng() % 10 < 8);
    return v;
}

struct OpCase {
    QString name;
    std::function<void(Run&)> body;
};

// The table. Inputs come from fixed seeds, so every backend sees the same numbers.
std::vector<OpCase> op_cases() {
    std::vector<OpCase> cases;
    auto add = [&](QString name, std::function<void(Run&)> body) { cases.push_back({std::move(name), std::move(body)}); };
    const int64_t sizes[] = {1, 3, 7, 127, 1000, 65537};
    const ElemType types[] = {ElemType::f32, ElemType::bf16, ElemType::f16};

    for (int64_t n : sizes) {
        const QString s = QString::number(n);
        add("fill n=" + s, [n](Run& r) { r.be().fill(r.out<float>(n, Check::bitwise), n, 0.25f); });
        add("fill_uniform n=" + s, [n](Run& r) {
            r.be().fill_uniform(r.out<float>(n, Check::bitwise), n, -0.3f, 0.7f, 42, philox::kStreamParams + 5);
        });
        add("fill_normal n=" + s, [n](Run& r) {
            r.be().fill_normal(r.out<float>(n, Check::nmse), n, 0.02f, 42, philox::kStreamInput);
        });
        add("fill_classes n=" + s, [n](Run& r) {
            r.be().fill_classes(r.out<int64_t>(n, Check::bitwise), n, 50257, 7, philox::kStreamTarget);
        });
        for (ElemType t : types) {
            const QString ts = QString(" ") + type_name(t);
            if (t != ElemType::f32) {
                add("cast f32 to" + ts + " n=" + s, [n, t](Run& r) {
                    r.be().cast(r.in(randn(n, 41, 300.0f)), ElemType::f32, r.out(n, t, Check::bitwise), t, n);
                });
                add("cast" + ts + " to f32 n=" + s, [n, t](Run& r) {
                    r.be().cast(r.in(randn(n, 42), t), t, r.out<float>(n, Check::bitwise), ElemType::f32, n);
                });
            }
            add("add" + ts + " n=" + s, [n, t](Run& r) {
                r.be().add(r.in(randn(n, 1), t), t, r.in(randn(n, 2), t), t, r.out(n, t, Check::bitwise), t, n);
            });
            for (Act a : {Act::relu, Act::gelu, Act::tanh, Act::silu}) {
                const char* names[] = {"relu", "gelu", "tanh", "silu"};
                const Check c = a == Act::relu ? Check::bitwise : Check::nmse;
                add(QString(names[int(a)]) + "_forward" + ts + " n=" + s, [n, a, t, c](Run& r) {
                    r.be().activation_forward(a, t, r.in(randn(n, 3, 2.0f), t), r.out(n, t, c), n);
                });
                add(QString(names[int(a)]) + "_backward" + ts + " n=" + s, [n, a, t, c](Run& r) {
                    r.be().activation_backward(a, t, r.in(randn(n, 4, 0.8f), t), r.in(randn(n, 5), t), r.out(n, t, c), n);
                });
            }
            add("dropout_forward" + ts + " n=" + s, [n, t](Run& r) {
                r.be().dropout_forward(t, r.in(randn(n, 6), t), r.out(n, t, Check::bitwise),
                                       r.out<uint8_t>(n, Check::bitwise), n, 0.3f, 11, philox::kStreamDropout + 2);
            });
            if (t == ElemType::f32)  // the mask alone (a recomputation's; tst_checkpointing checks it is forward's)
                add("dropout_mask n=" + s, [n](Run& r) {
                    uint8_t* mask = r.out<uint8_t>(n, Check::bitwise);
                    r.be().dropout_mask(mask, n, 0.3f, 11, philox::kStreamDropout + 2);
                });
            add("dropout_backward" + ts + " n=" + s, [n, t](Run& r) {
                r.be().dropout_backward(t, r.in(randn(n, 7), t), r.in(randmask(n, 8)), r.out(n, t, Check::bitwise), n, 0.1f);
            });
        }
        add("add f32 + bf16 -> f32 n=" + s, [n](Run& r) {
            r.be().add(r.in(randn(n, 1)), ElemType::f32, r.in(randn(n, 2), ElemType::bf16), ElemType::bf16,
                       r.out<float>(n, Check::bitwise), ElemType::f32, n);
        });
        add("mse n=" + s, [n](Run& r) {
            const float* p = r.in(randn(n, 9));
            const float* t = r.in(randn(n, 10));
            r.scalar(r.be().mse_forward(p, t, n));
            r.be().mse_backward(p, t, r.out<float>(n, Check::bitwise), n);
        });
        add("sgd momentum n=" + s, [n](Run& r) {
            float* w = r.inout(randn(n, 11), Check::bitwise);
            float* m = r.inout(randn(n, 12), Check::bitwise);
            r.be().sgd_step(w, r.in(randn(n, 13)), m, n, 0.01f, 0.9f, 0.001f, false);
        });
        add("adamw step 3 n=" + s, [n](Run& r) {
            float* w = r.inout(randn(n, 14), Check::bitwise);
            float* m = r.inout(randn(n, 15, 0.1f), Check::bitwise);
            std::vector<float> v = randn(n, 16, 0.01f);
            for (float& x : v) x = x * x;
            float* vv = r.inout(v, Check::bitwise);
            r.be().adamw_step(w, r.in(randn(n, 17)), m, vv, n, 3e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 3);
        });
        add("scale and all_finite n=" + s, [n](Run& r) {
            std::vector<float> v = randn(n, 43);
            float* x = r.inout(v, Check::bitwise);
            r.be().scale(x, n, 0.125f);
            r.scalar(r.be().all_finite(x, n) ? 1.0 : 0.0);
            v[size_t(n / 2)] = std::numeric_limits<float>::infinity();
            r.scalar(r.be().all_finite(r.in(v), n) ? 1.0 : 0.0);
        });
        add("digest n=" + s, [n](Run& r) { r.digest(r.be().digest(r.in(randn(n, 18)), n)); });
    }
    // Several launches' worth of digest chunks (a GPU folds 8M floats per launch).
    add("digest n=9000001", [](Run& r) { r.digest(r.be().digest(r.in(randn(9000001, 40)), 9000001)); });

    const int64_t mats[][2] = {{1, 1}, {3, 7}, {127, 129}, {1000, 33}, {8192, 768}, {70000, 3}};
    for (const auto& m : mats) {
        const int64_t rows = m[0], cols = m[1];
        const QString s = QString("%1x%2").arg(rows).arg(cols);
        for (ElemType t : types) {
            const QString ts = QString(" ") + type_name(t);
            add("broadcast_rows" + ts + " " + s, [=](Run& r) {
                r.be().broadcast_rows(r.out(rows * cols, t, Check::bitwise), r.in(randn(cols, 19), t), rows, cols, t);
            });
            add("column_sum" + ts + " " + s, [=](Run& r) {
                r.be().column_sum(r.out<float>(cols, Check::nmse), r.in(randn(rows * cols, 20), t), rows, cols, t);
            });
        }
        for (bool affine : {true, false}) {
            const QString a = affine ? " affine" : "";
            add("layernorm_forward " + s + a, [=](Run& r) {
                std::vector<float> x = randn(rows * cols, 21, 3.0f);
                for (float& v : x) v += 1.5f;  // a mean away from zero
                r.be().layernorm_forward(r.in(x), affine ? r.in(randn(cols, 22)) : nullptr,
                                         affine ? r.in(randn(cols, 23)) : nullptr, r.out<float>(rows * cols, Check::nmse),
                                         r.out<float>(rows, Check::nmse), r.out<float>(rows, Check::nmse), rows, cols, 1e-5f);
            });
            add("layernorm_backward " + s + a, [=](Run& r) {
                // Statistics from the CPU's forward are inputs here: consistent by construction.
                std::vector<float> x = randn(rows * cols, 24, 2.0f), mean(static_cast<size_t>(rows)), rstd(static_cast<size_t>(rows));
                std::vector<float> y(static_cast<size_t>(rows * cols));
                cpu_backend().layernorm_forward(x.data(), nullptr, nullptr, y.data(), mean.data(), rstd.data(), rows,
                                                cols, 1e-5f);
                r.be().layernorm_backward(r.in(x), affine ? r.in(randn(cols, 25)) : nullptr, r.in(mean), r.in(rstd),
                                          r.in(randn(rows * cols, 26)), r.out<float>(rows * cols, Check::nmse),
                                          affine ? r.out<float>(cols, Check::nmse) : nullptr,
                                          affine ? r.out<float>(cols, Check::nmse) : nullptr, rows, cols);
            });
        }
        add("softmax_xent " + s, [=](Run& r) {
            const float* logits = r.in(randn(rows * cols, 27, 3.0f));
            const int64_t* t = r.in(randi(rows, cols, 28));
            float* probs = r.out<float>(rows * cols, Check::nmse);
            // The loss adds up f32 exponentials: the device's expf is within 2 ulp of the host's,
            // so a short row can move the mean loss by a few 1e-9 relative.
            r.scalar(r.be().softmax_xent_forward(logits, t, probs, rows, cols), 1e-6);
            r.be().softmax_xent_backward(probs, t, r.out<float>(rows * cols, Check::nmse), rows, cols);
        });
    }

    struct Gemm { int64_t M, N, K; };
    for (const Gemm& g : {Gemm{1, 1, 1}, Gemm{3, 7, 5}, Gemm{127, 33, 65}, Gemm{256, 512, 128}, Gemm{1000, 3, 777},
                          Gemm{300, 260, 530}})
        for (int t = 0; t < 4; ++t)
            for (ElemType ab : types)
                for (ElemType c : {ElemType::f32, ab}) {
                    if (ab == ElemType::f32 && c != ElemType::f32) continue;
                    if (ab != ElemType::f32 && c == ElemType::f32 && t != 0) continue;  // one layout is enough
                    const bool ta = t & 1, tb = t & 2;
                    add(QString("gemm %1x%2x%3%4%5 %6 -> %7")
                            .arg(g.M).arg(g.N).arg(g.K).arg(ta ? " At" : "").arg(tb ? " Bt" : "")
                            .arg(type_name(ab)).arg(type_name(c)),
                        [=](Run& r) {
                            // Row-major op(A) (M,K), op(B) (K,N), C (M,N) with beta = 0.5 over a given C.
                            const int64_t lda = ta ? g.M : g.K, ldb = tb ? g.K : g.N;
                            void* C = r.inout(randn(g.M * g.N, 31), c, Check::nmse);
                            r.be().gemm_ex(ta, tb, g.M, g.N, g.K, 1.25f, r.in(randn(g.M * g.K, 29), ab), lda,
                                           r.in(randn(g.K * g.N, 30), ab), ldb, 0.5f, C, g.N, ab, c);
                        });
                }

    struct Emb { int64_t rows, seq, vocab, dim; };
    for (const Emb& e : {Emb{1, 1, 1, 1}, Emb{12, 3, 7, 5}, Emb{130, 13, 1000, 33}, Emb{2048, 1024, 50257, 64}}) {
        const QString s = QString("rows %1 seq %2 vocab %3 dim %4").arg(e.rows).arg(e.seq).arg(e.vocab).arg(e.dim);
        add("embedding_forward " + s, [=](Run& r) {
            r.be().embedding_forward(r.in(randi(e.rows, e.vocab, 32)), r.in(randn(e.vocab * e.dim, 33)),
                                     r.in(randn(e.seq * e.dim, 34)), r.out<float>(e.rows * e.dim, Check::bitwise), e.rows,
                                     e.seq, e.dim);
        });
        add("embedding_backward " + s, [=](Run& r) {
            // A small vocabulary so tokens repeat: their gradients must add in row order.
            const int64_t vocab = std::min<int64_t>(e.vocab, 50);
            r.be().embedding_backward(r.in(randi(e.rows, vocab, 35)), r.in(randn(e.rows * e.dim, 36)),
                                      r.out<float>(e.vocab * e.dim, Check::bitwise),
                                      r.out<float>(e.seq * e.dim, Check::bitwise), e.rows, e.seq, e.vocab, e.dim);
        });
    }

    struct Attn { int64_t B, T, H, Hk, hd; bool causal; float p; float rope; };
    for (const Attn& a : {Attn{1, 1, 1, 1, 1, false, 0.0f, 0.0f}, Attn{2, 7, 3, 3, 5, true, 0.0f, 0.0f},
                          Attn{2, 7, 3, 3, 5, true, 0.2f, 0.0f}, Attn{1, 127, 2, 2, 16, false, 0.1f, 0.0f},
                          Attn{2, 128, 4, 4, 32, true, 0.0f, 0.0f}, Attn{1, 256, 12, 12, 64, true, 0.1f, 0.0f},
                          Attn{2, 9, 6, 2, 8, true, 0.0f, 10000.0f}, Attn{1, 64, 8, 1, 16, true, 0.1f, 500000.0f},
                          Attn{2, 33, 4, 4, 6, false, 0.0f, 10000.0f}})
        for (ElemType t : types) {
            const QString s = QString("%7 B %1 T %2 H %3 kv %8 hd %4%5 p %6%9").arg(a.B).arg(a.T).arg(a.H).arg(a.hd)
                                  .arg(a.causal ? " causal" : "").arg(double(a.p)).arg(type_name(t)).arg(a.Hk)
                                  .arg(a.rope > 0 ? QString(" rope %1").arg(double(a.rope)) : QString());
            AttentionShape shape;
            shape.batch = a.B;
            shape.seq = a.T;
            shape.heads = a.H;
            shape.kv_heads = a.Hk;
            shape.head_dim = a.hd;
            shape.causal = a.causal;
            shape.p = a.p;
            shape.rope_theta = a.rope;
            const int64_t rows = a.B * a.T, W = shape.width(), d = shape.out(), probs = a.B * a.H * a.T * a.T;
            auto scratch_bytes = [=](DeviceKind k, bool forward) {
                return rope_scratch_bytes(rows, a.H, a.Hk, a.hd, a.rope > 0, t) +
                       (forward ? attention_forward_scratch_bytes(k, a.T, a.H, a.p > 0, t)
                                : attention_backward_scratch_bytes(k, a.T, a.H, a.Hk, a.p > 0, t));
            };
            add("attention_forward " + s, [=](Run& r) {
                void* scratch = r.out(std::max<int64_t>(1, scratch_bytes(r.be().kind(), true)), ElemType::u8, Check::bitwise);
                r.outs_pop();  // scratch contents are the device's business
                r.be().attention_forward(t, shape, r.in(randn(rows * W, 37), t), r.out(rows * d, t, Check::nmse),
                                         r.out<float>(probs, Check::nmse),
                                         a.p > 0 ? r.out<uint8_t>(probs, Check::bitwise) : nullptr, scratch, 3,
                                         philox::kStreamDropout + 1);
            });
            add("attention_backward " + s, [=](Run& r) {
                // The CPU's forward makes consistent probabilities and masks for the backward.
                const std::vector<unsigned char> qkv = to_bytes(randn(rows * W, 38), t);
                std::vector<unsigned char> out(static_cast<size_t>(rows * d * elem_size(t)));
                std::vector<float> P(static_cast<size_t>(probs));
                std::vector<uint8_t> M(static_cast<size_t>(probs));
                std::vector<unsigned char> fs(static_cast<size_t>(std::max<int64_t>(1, scratch_bytes(DeviceKind::cpu, true))));
                cpu_backend().attention_forward(t, shape, qkv.data(), out.data(), P.data(), a.p > 0 ? M.data() : nullptr,
                                                fs.data(), 3, philox::kStreamDropout + 1);
                void* qkv_dev = r.in(qkv);  // the same bytes the CPU's forward read
                void* scratch = r.out(std::max<int64_t>(1, scratch_bytes(r.be().kind(), false)), ElemType::u8, Check::bitwise);
                r.outs_pop();
                r.be().attention_backward(t, shape, qkv_dev, r.in(P), a.p > 0 ? r.in(M) : nullptr,
                                          r.in(randn(rows * d, 39), t), r.out(rows * W, t, Check::nmse), scratch);
            });
            // The fused kernel: output and log-sum-exp, and the input's gradient from the CPU's
            // forward (the same keep decisions, drawn again from the stream in both backwards).
            auto flash_bytes = [=](DeviceKind k, bool forward) {
                return std::max<int64_t>(1, flash_scratch(k, a.B, a.T, a.H, a.Hk, a.hd, a.rope > 0, a.p > 0, t, forward).bytes);
            };
            add("flash_attention_forward " + s, [=](Run& r) {
                void* scratch = r.out(flash_bytes(r.be().kind(), true), ElemType::u8, Check::bitwise);
                r.outs_pop();
                r.be().flash_attention_forward(t, shape, r.in(randn(rows * W, 37), t), r.out(rows * d, t, Check::nmse),
                                               r.out<float>(a.B * a.H * a.T, Check::nmse), scratch, 3,
                                               philox::kStreamDropout + 1);
            });
            add("flash_attention_backward " + s, [=](Run& r) {
                const std::vector<unsigned char> qkv = to_bytes(randn(rows * W, 38), t);
                std::vector<unsigned char> out(static_cast<size_t>(rows * d * elem_size(t)));
                std::vector<float> lse(static_cast<size_t>(a.B * a.H * a.T));
                std::vector<unsigned char> fs(static_cast<size_t>(flash_bytes(DeviceKind::cpu, true)));
                cpu_backend().flash_attention_forward(t, shape, qkv.data(), out.data(), lse.data(), fs.data(), 3,
                                                      philox::kStreamDropout + 1);
                void* scratch = r.out(flash_bytes(r.be().kind(), false), ElemType::u8, Check::bitwise);
                r.outs_pop();
                r.be().flash_attention_backward(t, shape, r.in(qkv), r.in(out), r.in(lse), r.in(randn(rows * d, 39), t),
                                                r.out(rows * W, t, Check::nmse), scratch, 3, philox::kStreamDropout + 1);
            });
        }

    for (const auto& m : {std::pair<int64_t, int64_t>{1, 1}, {3, 7}, {127, 129}, {1000, 33}, {4096, 768}}) {
        const int64_t rows = m.first, cols = m.second;
        const QString s = QString("%1x%2").arg(rows).arg(cols);
        add("rmsnorm_forward " + s, [=](Run& r) {
            r.be().rmsnorm_forward(r.in(randn(rows * cols, 44, 2.0f)), r.in(randn(cols, 45)),
                                   r.out<float>(rows * cols, Check::nmse), r.out<float>(rows, Check::nmse), rows, cols, 1e-5f);
        });
        add("rmsnorm_backward " + s, [=](Run& r) {
            std::vector<float> x = randn(rows * cols, 46, 2.0f), rstd(static_cast<size_t>(rows));
            std::vector<float> y(static_cast<size_t>(rows * cols)), g = randn(cols, 47);
            cpu_backend().rmsnorm_forward(x.data(), g.data(), y.data(), rstd.data(), rows, cols, 1e-5f);
            r.be().rmsnorm_backward(r.in(x), r.in(g), r.in(rstd), r.in(randn(rows * cols, 48)),
                                    r.out<float>(rows * cols, Check::nmse), r.out<float>(cols, Check::nmse), rows, cols);
        });
        for (ElemType t : types) {
            const QString ts = QString(" ") + type_name(t);
            add("swiglu_forward" + ts + " " + s, [=](Run& r) {
                r.be().swiglu_forward(t, r.in(randn(rows * 2 * cols, 49, 2.0f), t), r.out(rows * cols, t, Check::nmse), rows, cols);
            });
            add("swiglu_backward" + ts + " " + s, [=](Run& r) {
                r.be().swiglu_backward(t, r.in(randn(rows * 2 * cols, 50, 2.0f), t), r.in(randn(rows * cols, 51), t),
                                       r.out(rows * 2 * cols, t, Check::nmse), rows, cols);
            });
        }
    }
    // The image ops: convolutions (padded, strided, grouped, pointwise, a batch that does not
    // fill a GPU chunk evenly), batch norm with and without affine parameters and running
    // statistics, pooling with overlapping and padded windows.
    struct Conv {
        const char* name;
        ConvShape s;
    };
    for (const Conv& cv : {Conv{"3x3 pad 1", {3, 4, 6, 7, 7, 3, 1, 1, 1}}, Conv{"3x3 stride 2 groups 2", {2, 4, 6, 9, 8, 3, 2, 1, 2}},
                           Conv{"1x1 pointwise", {3, 8, 5, 5, 5, 1, 1, 0, 1}}, Conv{"1x1 stride 2", {2, 8, 16, 7, 7, 1, 2, 0, 1}},
                           Conv{"7x7 stride 2 pad 3", {5, 3, 16, 23, 23, 7, 2, 3, 1}},
                           Conv{"depthwise 3x3", {2, 6, 6, 11, 11, 3, 1, 1, 6}}}) {
        const ConvShape cs = cv.s;
        const int64_t xn = cs.batch * cs.in_channels * cs.height * cs.width, wn = cs.out_channels * cs.col_rows();
        const int64_t yn = cs.batch * cs.out_channels * cs.out_h() * cs.out_w();
        for (ElemType t : types) {
            const QString ts = QString(" ") + type_name(t) + " " + cv.name;
            add("conv2d_forward" + ts, [=](Run& r) {
                const int64_t sb = conv_forward_scratch_bytes(r.be().kind(), cs, t);
                void* scratch = r.out(std::max<int64_t>(1, sb), ElemType::u8, Check::bitwise);
                r.outs_pop();
                r.be().conv2d_forward(t, cs, r.in(randn(xn, 60), t), r.in(randn(wn, 61, 0.3f), t),
                                      r.in(randn(cs.out_channels, 62), t), r.out(yn, t, Check::nmse), scratch);
            });
            add("conv2d_backward" + ts, [=](Run& r) {
                const int64_t sb = conv_backward_scratch_bytes(r.be().kind(), cs, true, t);
                void* scratch = r.out(std::max<int64_t>(1, sb), ElemType::u8, Check::bitwise);
                r.outs_pop();
                r.be().conv2d_backward(t, cs, r.in(randn(xn, 63), t), r.in(randn(wn, 64, 0.3f), t), r.in(randn(yn, 65), t),
                                       r.out(xn, t, Check::nmse), r.out<float>(wn, Check::nmse),
                                       r.out<float>(cs.out_channels, Check::nmse), scratch);
            });
        }
    }
    for (const auto& b : {std::array<int64_t, 3>{2, 3, 25}, {8, 16, 64}, {1, 5, 2}, {32, 4, 1024}}) {
        const int64_t n = b[0], c = b[1], hw = b[2];
        const QString sz = QString(" %1x%2x%3").arg(n).arg(c).arg(hw);
        for (ElemType t : types)
            for (bool affine : {true, false}) {
                const QString ts = QString(" ") + type_name(t) + (affine ? "" : " no affine") + sz;
                add("batchnorm_forward" + ts, [=](Run& r) {
                    std::vector<float> rm = randn(c, 70), rv = randn(c, 71);
                    for (float& v : rv) v = std::fabs(v) + 0.5f;
                    r.be().batchnorm_forward(t, r.in(randn(n * c * hw, 72, 2.0f), t), affine ? r.in(randn(c, 73)) : nullptr,
                                             affine ? r.in(randn(c, 74)) : nullptr, r.out(n * c * hw, t, Check::nmse),
                                             r.out<float>(c, Check::nmse), r.out<float>(c, Check::nmse), n, c, hw, 1e-5f,
                                             affine ? r.inout(rm, Check::nmse) : nullptr,
                                             affine ? r.inout(rv, Check::nmse) : nullptr, 0.1f);
                });
                add("batchnorm_backward" + ts, [=](Run& r) {
                    std::vector<float> mean = randn(c, 75, 0.5f), rstd = randn(c, 76);
                    for (float& v : rstd) v = std::fabs(v) + 0.5f;
                    r.be().batchnorm_backward(t, r.in(randn(n * c * hw, 77, 2.0f), t), affine ? r.in(randn(c, 78)) : nullptr,
                                              r.in(mean), r.in(rstd), r.in(randn(n * c * hw, 79), t),
                                              r.out(n * c * hw, t, Check::nmse), affine ? r.out<float>(c, Check::nmse) : nullptr,
                                              affine ? r.out<float>(c, Check::nmse) : nullptr, n, c, hw);
                });
            }
    }
    struct Pool {
        const char* name;
        PoolShape s;
    };
    for (const Pool& pl : {Pool{"3 stride 2 pad 1", {2, 3, 9, 8, 3, 3, 2, 2, 1}}, Pool{"2", {3, 4, 6, 6, 2, 2, 2, 2, 0}},
                           Pool{"global 7x7", {4, 5, 7, 7, 7, 7, 7, 7, 0}}, Pool{"3 stride 1", {1, 2, 5, 5, 3, 3, 1, 1, 0}}}) {
        const PoolShape ps = pl.s;
        const int64_t xn = ps.batch * ps.channels * ps.height * ps.width, yn = ps.batch * ps.channels * ps.out_h() * ps.out_w();
        for (ElemType t : types) {
            const QString ts = QString(" ") + type_name(t) + " " + pl.name;
            // Max pooling picks elements: exact on every device.
            add("maxpool_forward" + ts, [=](Run& r) {
                r.be().maxpool_forward(t, ps, r.in(randn(xn, 80), t), r.out(yn, t, Check::bitwise));
            });
            add("maxpool_backward" + ts, [=](Run& r) {
                r.be().maxpool_backward(t, ps, r.in(randn(xn, 81), t), r.in(randn(yn, 82), t), r.out(xn, t, Check::nmse));
            });
            add("avgpool_forward" + ts, [=](Run& r) {
                r.be().avgpool_forward(t, ps, r.in(randn(xn, 83), t), r.out(yn, t, Check::nmse));
            });
            add("avgpool_backward" + ts, [=](Run& r) {
                r.be().avgpool_backward(t, ps, r.in(randn(yn, 84), t), r.out(xn, t, Check::nmse));
            });
        }
    }
    return cases;
}

// Results of one case on one backend.
struct Outcome {
    std::vector<std::vector<unsigned char>> outs;
    std::vector<Run::Out> meta;
    std::vector<std::pair<double, double>> scalars;
    std::vector<Digest> digests;
};

Outcome run_case(const OpCase& c, Backend& be) {
    Run r(be);
    c.body(r);
    be.synchronize();
    return {r.read(), r.outs(), r.scalars(), r.digests()};
}

QString compare(const Outcome& got, const Outcome& ref) {
    if (got.outs.size() != ref.outs.size()) return "different number of outputs";
    for (size_t i = 0; i < got.outs.size(); ++i) {
        const auto& g = got.outs[i];
        const auto& f = ref.outs[i];
        const Run::Out& m = ref.meta[i];
        if (g.size() != f.size()) return QString("output %1: sizes differ").arg(i);
        if (m.check == Check::bitwise || !m.floating()) {
            if (std::memcmp(g.data(), f.data(), g.size()) != 0) {
                size_t k = 0;
                while (k < g.size() && g[k] == f[k]) ++k;
                return QString("output %1: not bitwise equal (first difference at byte %2 of %3)").arg(i).arg(k).arg(g.size());
            }
            continue;
        }
        double err = 0.0, norm = 0.0;
        for (size_t k = 0; k < g.size() / size_t(elem_size(m.type)); ++k) {
            const float a = value_at(g.data(), k, m.type), b = value_at(f.data(), k, m.type);
            if (!std::isfinite(a) && std::isfinite(b)) return QString("output %1: element %2 not written (or not finite)").arg(i).arg(k);
            err += (double(a) - double(b)) * (double(a) - double(b));
            norm += double(b) * double(b);
        }
        const double nmse = norm > 0 ? err / norm : err, limit = max_nmse(m.type);
        if (!(nmse <= limit)) return QString("output %1 (%4): NMSE %2 > %3").arg(i).arg(nmse).arg(limit).arg(type_name(m.type));
    }
    for (size_t i = 0; i < got.scalars.size(); ++i) {
        const double a = got.scalars[i].first, b = ref.scalars[i].first, tol = ref.scalars[i].second;
        if (!(std::fabs(a - b) <= tol * std::max(1.0, std::fabs(b))))
            return QString("scalar %1: %2 vs %3").arg(i).arg(a, 0, 'g', 17).arg(b, 0, 'g', 17);
    }
    for (size_t i = 0; i < got.digests.size(); ++i) {
        const Digest& a = got.digests[i];
        const Digest& b = ref.digests[i];
        if (a.hash != b.hash || a.sum != b.sum || a.abs_sum != b.abs_sum)
            return QString("digest %1: %2/%3/%4 vs %5/%6/%7").arg(i).arg(a.hash, 16, 16).arg(a.sum).arg(a.abs_sum)
                .arg(b.hash, 16, 16).arg(b.sum).arg(b.abs_sum);
    }
    return {};
}

// The event stream of one layer's forward and backward: (signed bytes, category) per event.
std::vector<std::pair<int64_t, int>> layer_events(Backend& be, const LayerSpec& spec, std::vector<int64_t> in_shape,
                                                  int64_t seq, ElemType compute, std::vector<int64_t>* out_shape) {
    Allocator alloc(be, 0);
    Recorder rec(be.clock());
    be.clock().start();
    rec.begin(true, nullptr);
    alloc.begin_step(&rec);
    std::vector<std::pair<int64_t, int>> events;
    {
        OpContext ctx{alloc, be, 3};
        ctx.seq = seq;
        ctx.compute = compute;
        auto layer = make_layer(spec, ctx, "l", philox::kStreamParams);
        const bool tokens = spec.type == LayerType::embedding;
        Tensor x = ctx.make(in_shape, Category::input, tokens ? ElemType::i64 : ElemType::f32);
        if (tokens) be.fill_classes(x.i64(), x.numel(), spec.vocab, 1, 2);
        else be.fill_normal(x.f(), x.numel(), 1.0f, 1, 2);
        StatePtr state;
        Tensor y = layer->forward(ctx, x, &state);
        *out_shape = y.shape;
        Tensor dy32 = ctx.make(y.shape);
        be.fill_normal(dy32.f(), dy32.numel(), 1.0f, 1, 3);
        Tensor dy = ctx.cast_to(dy32, y.type);
        Tensor dx = layer->backward(ctx, *state, dy, true);
        for (Param& p : layer->params()) p.grad.reset();
    }
    std::vector<MemoryEvent> ev;
    rec.finish(&ev, nullptr);
    be.synchronize();
    for (const MemoryEvent& e : ev) events.push_back({e.bytes, int(e.tag.category)});
    return events;
}

QString cuda_absent_reason() {
    std::string why;
    if (cuda_devices(&why).empty()) return QString::fromStdString(why);
    return {};
}

}  // namespace

class TestBackendOps : public QObject {
    Q_OBJECT

private slots:
    void ops_data() {
        QTest::addColumn<QString>("backend");
        QTest::addColumn<int>("index");
        const std::vector<OpCase> cases = op_cases();
        for (size_t i = 0; i < cases.size(); ++i)
            QTest::newRow(qPrintable("cuda: " + cases[i].name)) << QString("cuda") << int(i);
    }

    void ops() {
        QFETCH(QString, backend);
        QFETCH(int, index);
        const QString why = cuda_absent_reason();
        if (!why.isEmpty()) QSKIP(qPrintable("no CUDA device: " + why));
        Result<Backend*> be = backend_for(backend.toStdString());
        QVERIFY2(be.ok(), be.ok() ? "" : be.error().message.c_str());
        const std::vector<OpCase> cases = op_cases();
        const OpCase& c = cases[size_t(index)];
        const Outcome ref = run_case(c, cpu_backend());
        const Outcome got = run_case(c, **be);
        const QString diff = compare(got, ref);
        QVERIFY2(diff.isEmpty(), qPrintable(c.name + ": " + diff));
    }

    // The CPU reference itself: every output written (no NaN left from the poison) on every case.
    void cpuWritesEveryOutput() {
        for (const OpCase& c : op_cases()) {
            const Outcome r = run_case(c, cpu_backend());
            for (size_t i = 0; i < r.outs.size(); ++i) {
                if (!r.meta[i].floating()) continue;
                // The message is built only for a failure: formatting it for every element took
                // minutes under AddressSanitizer.
                for (size_t k = 0; k < r.outs[i].size() / size_t(elem_size(r.meta[i].type)); ++k)
                    if (!std::isfinite(value_at(r.outs[i].data(), k, r.meta[i].type)))
                        QFAIL(qPrintable(c.name + QString(": output %1 element %2 is not finite").arg(i).arg(k)));
            }
        }
    }

    void dryBytes_data() {
        QTest::addColumn<QString>("device");
        QTest::addColumn<int>("type");
        QTest::addColumn<int>("variant");
        QTest::addColumn<int>("compute");
        for (ElemType compute : {ElemType::f32, ElemType::bf16})
        for (const char* dev : {"cpu", "cuda"})
            for (LayerType t : {LayerType::linear, LayerType::relu, LayerType::gelu, LayerType::tanh, LayerType::silu,
                                LayerType::layernorm, LayerType::rmsnorm, LayerType::dropout, LayerType::embedding,
                                LayerType::attention, LayerType::swiglu, LayerType::conv2d, LayerType::batchnorm2d,
                                LayerType::maxpool2d, LayerType::avgpool2d, LayerType::global_avgpool, LayerType::flatten})
                for (int v = 0; v < (t == LayerType::attention ? 4 : 2); ++v)
                    QTest::newRow(qPrintable(QString("%1 %4: %2 %3").arg(dev).arg(QString::fromUtf8(layer_type_name(t).data(),
                                                                                                    int(layer_type_name(t).size())))
                                                 .arg(v).arg(type_name(compute))))
                        << QString(dev) << int(t) << v << int(compute);
    }

    // Layer by layer, the dry backend's allocations equal the real backend's: same sizes, same
    // categories, same order. Variants: odd small shapes, and a dropout / no-bias flavour.
    void dryBytes() {
        QFETCH(QString, device);
        QFETCH(int, type);
        QFETCH(int, variant);
        QFETCH(int, compute);
        if (device == "cuda") {
            const QString why = cuda_absent_reason();
            if (!why.isEmpty()) QSKIP(qPrintable("no CUDA device: " + why));
        }
        Result<Backend*> be = backend_for(device.toStdString());
        QVERIFY(be.ok());
        LayerSpec s;
        s.type = LayerType(type);
        const int64_t rows = variant % 2 ? 21 : 6, seq = variant % 2 ? 7 : 3, f = variant % 2 ? 12 : 9;
        std::vector<int64_t> shape{rows, f};
        s.in = f;
        s.out = variant ? 5 : 13;
        s.bias = variant == 0;
        s.dim = f;
        s.p = variant ? 0.3 : 0.0;
        if (s.type == LayerType::embedding) {
            s.vocab = 11;
            s.dim = 6;
            s.max_len = variant ? seq : 0;
            shape = {rows, 1};
        }
        if (s.type == LayerType::attention) {
            // Variant 1: grouped-query (6 query heads sharing 2 key/value heads) with rotary
            // positions; variants 2 and 3 the same two on the flash kernel.
            s.heads = variant % 2 ? 6 : 3;
            s.kv_heads = variant % 2 ? 2 : 0;
            s.rope_theta = variant % 2 ? 10000.0 : 0.0;
            s.causal = variant % 2 == 1;
            s.impl = variant >= 2 ? AttentionImpl::flash : AttentionImpl::eager;
            shape = {rows, variant % 2 ? (6 + 2 * 2) * 2 : 3 * 3};
        }
        if (s.type == LayerType::swiglu) shape = {rows, 2 * f};
        if (layer_traits(s.type).takes != LayerTraits::Takes::flat && s.type >= LayerType::conv2d) {
            // Images (B, C, H, W); variant 1: strided, padded, grouped, first-in-model.
            shape = {variant ? 3 : 2, 4, variant ? 9 : 6, variant ? 7 : 6};
            s.in = 4;
            s.out = 6;
            s.dim = 4;
            s.kernel = 3;
            s.stride = variant ? 2 : 0;
            s.padding = variant ? 1 : 0;
            s.groups = variant ? 2 : 1;
        }
        std::vector<int64_t> real_shape, dry_shape;
        const auto real = layer_events(**be, s, shape, seq, ElemType(compute), &real_shape);
        const auto dry = layer_events(dry_backend((*be)->kind()), s, shape, seq, ElemType(compute), &dry_shape);
        QCOMPARE(dry_shape, real_shape);
        QCOMPARE(dry.size(), real.size());
        for (size_t i = 0; i < dry.size(); ++i) QCOMPARE(dry[i], real[i]);
        int64_t balance = 0;
        for (const auto& e : real) balance += e.first;
        QCOMPARE(balance, int64_t(0));  // everything the layer allocated was freed
    }
};

QTEST_GUILESS_MAIN(TestBackendOps)
#include "tst_backend_ops.moc"
