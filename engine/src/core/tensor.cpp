// Tensor construction and host copies.
#include "core/tensor.h"

namespace ckpt {

Tensor Tensor::make(Allocator& a, std::vector<int64_t> shape, Category c, ElemType t) {
    Tensor x;
    x.shape = std::move(shape);
    x.type = t;
    x.storage = a.allocate(x.numel() * elem_size(t), c);
    return x;
}

int64_t Tensor::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

std::vector<float> to_host_f32(Backend& be, const Tensor& t) {
    std::vector<float> h(size_t(t.numel()));
    if (t.storage && t.storage->data) be.to_host(h.data(), t.storage->data, h.size() * sizeof(float));
    return h;
}

}  // namespace ckpt
