// Tensors: a shape over reference-counted storage from the tracking allocator. Row-major and
// contiguous; f32 for values (bf16 or f16 for the activations of a mixed-precision run), u8 for
// dropout masks, i64 for class targets. The last Tensor dropping a Storage returns its buffer,
// so live bytes are always exact.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/allocator.h"
#include "core/elem_type.h"

namespace ckpt {


struct Tensor {
    std::shared_ptr<Storage> storage;
    std::vector<int64_t> shape;
    ElemType type = ElemType::f32;

    static Tensor make(Allocator& a, std::vector<int64_t> shape, Category c, ElemType t = ElemType::f32);

    explicit operator bool() const { return bool(storage); }
    int64_t numel() const;
    int64_t bytes() const { return numel() * elem_size(type); }
    int64_t rows() const { return numel() / cols(); }  // all but the last dim
    int64_t cols() const { return shape.empty() ? 1 : shape.back(); }
    float* f() const { return static_cast<float*>(storage->data); }
    void* data() const { return storage->data; }
    uint8_t* u8() const { return static_cast<uint8_t*>(storage->data); }
    int64_t* i64() const { return static_cast<int64_t*>(storage->data); }
    void reset() { storage.reset(); }
};

// A copy on the host (for checksums and dumps).
std::vector<float> to_host_f32(Backend& be, const Tensor& t);

}  // namespace ckpt
