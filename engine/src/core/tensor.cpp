// Tensor construction and host copies.
#include "core/tensor.h"

#include <stdexcept>

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

// A 16-bit tensor is copied as it is stored and widened here: copying numel() floats from it
// read twice its size (AddressSanitizer found it on the bf16 "output" of --dump-tensors).
std::vector<float> to_host_f32(Backend& be, const Tensor& t) {
    std::vector<float> h(size_t(t.numel()));
    if (!t.storage || !t.storage->data) return h;
    if (t.type == ElemType::f32) {
        be.to_host(h.data(), t.storage->data, h.size() * sizeof(float));
    } else if (is_low_precision(t.type)) {
        std::vector<uint16_t> bits(h.size());
        be.to_host(bits.data(), t.storage->data, bits.size() * sizeof(uint16_t));
        for (size_t i = 0; i < h.size(); ++i)
            h[i] = t.type == ElemType::bf16 ? bf16_to_f32(bits[i]) : f16_to_f32(bits[i]);
    } else {
        throw std::logic_error("to_host_f32: not a floating-point tensor");
    }
    return h;
}

}  // namespace ckpt
