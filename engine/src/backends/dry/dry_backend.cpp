// The dry backend: no memory, no arithmetic. The executor runs on it unchanged; the tracking
// allocator counts every tensor it would have allocated, so the bytes of a step are predicted
// exactly for any size, for the device kind it stands in for (scratch.h). Pointers it sees are
// null and every kernel returns at once; losses are 0.
#include "backends/backend.h"
#include "backends/host_clock.h"

namespace ckpt {
namespace {

class DryBackend final : public Backend {
public:
    explicit DryBackend(DeviceKind kind) : kind_(kind) {}
    std::string name() const override { return kind_ == DeviceKind::cuda ? "dry run (cuda)" : "dry run (cpu)"; }
    DeviceKind kind() const override { return kind_; }
    bool computes() const override { return false; }
    // Dry runs happen on several threads at once (the GUI predicts while a worker runs), so
    // each thread times its own.
    Clock& clock() override {
        thread_local HostClock clock;
        return clock;
    }

    void* allocate(size_t) override { return nullptr; }
    void release(void*, size_t) override {}
    void to_host(void*, const void*, size_t) override {}
    void from_host(void*, const void*, size_t) override {}
    Digest digest(const float*, int64_t) override { return {}; }

    void gemm_ex(bool, bool, int64_t, int64_t, int64_t, float, const void*, int64_t, const void*, int64_t, float,
                 void*, int64_t, ElemType, ElemType) override {}
    void cast(const void*, ElemType, void*, ElemType, int64_t) override {}
    void fill(float*, int64_t, float) override {}
    void fill_uniform(float*, int64_t, float, float, uint64_t, uint64_t) override {}
    void fill_normal(float*, int64_t, float, uint64_t, uint64_t) override {}
    void fill_classes(int64_t*, int64_t, int64_t, uint64_t, uint64_t) override {}
    void broadcast_rows(void*, const void*, int64_t, int64_t, ElemType) override {}
    void column_sum(float*, const void*, int64_t, int64_t, ElemType) override {}
    void activation_forward(Act, ElemType, const void*, void*, int64_t) override {}
    void activation_backward(Act, ElemType, const void*, const void*, void*, int64_t) override {}
    void add(const void*, ElemType, const void*, ElemType, void*, ElemType, int64_t) override {}
    void layernorm_forward(const float*, const float*, const float*, float*, float*, float*, int64_t, int64_t,
                           float) override {}
    void layernorm_backward(const float*, const float*, const float*, const float*, const float*, float*, float*,
                            float*, int64_t, int64_t) override {}
    void dropout_forward(ElemType, const void*, void*, uint8_t*, int64_t, float, uint64_t, uint64_t) override {}
    void dropout_backward(ElemType, const void*, const uint8_t*, void*, int64_t, float) override {}
    void dropout_mask(uint8_t*, int64_t, float, uint64_t, uint64_t) override {}
    double mse_forward(const float*, const float*, int64_t) override { return 0.0; }
    void mse_backward(const float*, const float*, float*, int64_t) override {}
    double softmax_xent_forward(const float*, const int64_t*, float*, int64_t, int64_t) override { return 0.0; }
    void softmax_xent_backward(const float*, const int64_t*, float*, int64_t, int64_t) override {}
    void embedding_forward(const int64_t*, const float*, const float*, float*, int64_t, int64_t, int64_t) override {}
    void embedding_backward(const int64_t*, const float*, float*, float*, int64_t, int64_t, int64_t,
                            int64_t) override {}
    void attention_forward(ElemType, const AttentionShape&, const void*, void*, float*, uint8_t*, void*, uint64_t,
                           uint64_t) override {}
    void attention_backward(ElemType, const AttentionShape&, const void*, const float*, const uint8_t*, const void*,
                            void*, void*) override {}
    void flash_attention_forward(ElemType, const AttentionShape&, const void*, void*, float*, void*, uint64_t,
                                 uint64_t) override {}
    void flash_attention_backward(ElemType, const AttentionShape&, const void*, const void*, const float*, const void*,
                                  void*, void*, uint64_t, uint64_t) override {}
    void rmsnorm_forward(const float*, const float*, float*, float*, int64_t, int64_t, float) override {}
    void rmsnorm_backward(const float*, const float*, const float*, const float*, float*, float*, int64_t,
                          int64_t) override {}
    void swiglu_forward(ElemType, const void*, void*, int64_t, int64_t) override {}
    void swiglu_backward(ElemType, const void*, const void*, void*, int64_t, int64_t) override {}
    void conv2d_forward(ElemType, const ConvShape&, const void*, const void*, const void*, void*, void*) override {}
    void conv2d_backward(ElemType, const ConvShape&, const void*, const void*, const void*, void*, float*, float*,
                         void*) override {}
    void batchnorm_forward(ElemType, const void*, const float*, const float*, void*, float*, float*, int64_t, int64_t,
                           int64_t, float, float*, float*, float) override {}
    void batchnorm_backward(ElemType, const void*, const float*, const float*, const float*, const void*, void*, float*,
                            float*, int64_t, int64_t, int64_t) override {}
    void maxpool_forward(ElemType, const PoolShape&, const void*, void*) override {}
    void maxpool_backward(ElemType, const PoolShape&, const void*, const void*, void*) override {}
    void avgpool_forward(ElemType, const PoolShape&, const void*, void*) override {}
    void avgpool_backward(ElemType, const PoolShape&, const void*, void*) override {}
    // Nothing overflows in a run that computes nothing.
    bool all_finite(const float*, int64_t) override { return true; }
    void scale(float*, int64_t, float) override {}
    void sgd_step(float*, const float*, float*, int64_t, float, float, float, bool) override {}
    void adamw_step(float*, const float*, float*, float*, int64_t, float, float, float, float, float,
                    int64_t) override {}

private:
    DeviceKind kind_;
};

}  // namespace

Backend& dry_backend(DeviceKind kind) {
    // One per kind; it holds no state.
    static DryBackend cpu(DeviceKind::cpu), cuda(DeviceKind::cuda);
    return kind == DeviceKind::cuda ? cuda : cpu;
}

}  // namespace ckpt
